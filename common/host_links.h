// What the runners do to the host's network namespaces and links, behind an
// interface so that their cores can be unit-tested with a fake
// (IpHostLinks runs iproute2's `ip`; fakes record the calls).
#ifndef CLOONIX_COMMON_HOST_LINKS_H_
#define CLOONIX_COMMON_HOST_LINKS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace cloonix {

class HostLinks {
 public:
  virtual ~HostLinks() = default;
  virtual bool NetnsExists(const std::string& ns) = 0;
  virtual absl::Status CreateNetns(const std::string& ns) = 0;
  // Deletes the netns; its links (and their veth peers elsewhere) go with it.
  virtual absl::Status DeleteNetns(const std::string& ns) = 0;
  // Netns whose name starts with `prefix`.
  virtual std::vector<std::string> ListNetns(const std::string& prefix) = 0;
  // `ns` "" is the host's netns.
  virtual bool LinkExists(const std::string& ns, const std::string& name) = 0;
  virtual absl::Status DeleteLink(const std::string& ns,
                                  const std::string& name) = 0;
  // A veth pair: `name` (with `mac`) in `ns`, `peer` in `peer_ns`, both up.
  virtual absl::Status AddVeth(const std::string& ns, const std::string& name,
                               const std::string& mac, const std::string& peer,
                               const std::string& peer_ns) = 0;
  // Moves host link `name` into `ns` as `new_name`, up.
  virtual absl::Status MoveLink(const std::string& name, const std::string& ns,
                                const std::string& new_name) = 0;
};

// The real one: iproute2 and common/netns.
class IpHostLinks : public HostLinks {
 public:
  bool NetnsExists(const std::string& ns) override;
  absl::Status CreateNetns(const std::string& ns) override;
  absl::Status DeleteNetns(const std::string& ns) override;
  std::vector<std::string> ListNetns(const std::string& prefix) override;
  bool LinkExists(const std::string& ns, const std::string& name) override;
  absl::Status DeleteLink(const std::string& ns,
                          const std::string& name) override;
  absl::Status AddVeth(const std::string& ns, const std::string& name,
                       const std::string& mac, const std::string& peer,
                       const std::string& peer_ns) override;
  absl::Status MoveLink(const std::string& name, const std::string& ns,
                        const std::string& new_name) override;
};

}  // namespace cloonix

#endif  // CLOONIX_COMMON_HOST_LINKS_H_
