// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Debian's abseil (20220623) predates
// absl's own status macros.
#ifndef CLOONIX_COMMON_STATUS_MACROS_H_
#define CLOONIX_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CLOONIX_CONCAT_INNER(a, b) a##b
#define CLOONIX_CONCAT(a, b) CLOONIX_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status _cloonix_status = (expr); \
    if (!_cloonix_status.ok()) {             \
      return _cloonix_status;                \
    }                                        \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr)                                          \
  CLOONIX_ASSIGN_OR_RETURN_IMPL(CLOONIX_CONCAT(_cloonix_or_, __LINE__), lhs, \
                                expr)

#define CLOONIX_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) {                                    \
    return tmp.status();                              \
  }                                                   \
  lhs = std::move(tmp).value()

#endif  // CLOONIX_COMMON_STATUS_MACROS_H_
