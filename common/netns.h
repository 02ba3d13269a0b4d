// Named network namespaces (ip netns: /run/netns/<name>) and links in them.
#ifndef CLOONIX_COMMON_NETNS_H_
#define CLOONIX_COMMON_NETNS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cloonix {

bool NetnsExists(const std::string& name);
// Creates the netns (idempotent) and brings its loopback up.
absl::Status CreateNetns(const std::string& name);
// Deletes the netns (idempotent); interfaces in it go with it.
absl::Status DeleteNetns(const std::string& name);
std::string NetnsPath(const std::string& name);
// Names of the named netns that start with `prefix`, sorted.
std::vector<std::string> ListNetns(const std::string& prefix);
// Moves the calling thread into netns `name` (threads it creates later
// inherit it). Call before starting threads.
absl::Status EnterNetns(const std::string& name);
// True if interface `ifname` exists in netns `ns`.
bool LinkExists(const std::string& ns, const std::string& ifname);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_NETNS_H_
