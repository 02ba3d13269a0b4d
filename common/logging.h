// spdlog set-up shared by every daemon: "<time> <level> <service>: message" on
// stderr (the supervisor appends stderr to <work_dir>/log/<service>.log).
#ifndef CLOONIX_COMMON_LOGGING_H_
#define CLOONIX_COMMON_LOGGING_H_

#include <string>

namespace cloonix {

// level: trace, debug, info, warn, error.
void InitLogging(const std::string& service, const std::string& level);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_LOGGING_H_
