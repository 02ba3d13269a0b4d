// The reasons cloonix puts in the google.rpc.ErrorInfo of its errors
// (domain "cloonix.v1"), so that clients branch on a reason, never on the
// text of a message. The gRPC code says the class of error; the reason says
// which one. An error without an explicit reason carries its code's name.
#ifndef CLOONIX_COMMON_ERROR_REASONS_H_
#define CLOONIX_COMMON_ERROR_REASONS_H_

namespace cloonix::reason {

inline constexpr char kDomain[] = "cloonix.v1";

// NOT_FOUND: no item of that name in the net (metadata: item).
inline constexpr char kItemNotFound[] = "ITEM_NOT_FOUND";
// ALREADY_EXISTS: the name is taken (metadata: item).
inline constexpr char kItemExists[] = "ITEM_EXISTS";
// DEADLINE_EXCEEDED: the item stayed held (being created or deleted, or
// another request on it) longer than the request could wait (metadata:
// item). Retry later.
inline constexpr char kItemBusy[] = "ITEM_BUSY";
// UNAVAILABLE: the doorway answers but one of the net's daemons does not
// (restarting, or the net is stopping) (metadata: service).
inline constexpr char kUpstreamUnavailable[] = "UPSTREAM_UNAVAILABLE";

// UNAVAILABLE: the guest's agent or runtime reported an error in a session
// (exec, copy, tunnel); the message is the guest's.
inline constexpr char kGuestError[] = "GUEST_ERROR";
// UNAVAILABLE: the net is stopping (streams end, new ones are refused).
inline constexpr char kNetStopping[] = "NET_STOPPING";

}  // namespace cloonix::reason

#endif  // CLOONIX_COMMON_ERROR_REASONS_H_
