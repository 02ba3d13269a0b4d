// The net's private PKI for the doorway's TCP listener (mutual TLS): a CA,
// a server certificate (names "cloonix-doorway", "localhost", 127.0.0.1 and
// ::1; clients verify it against the CA and use "cloonix-doorway" as target
// name whatever address they dial) and one client certificate. Generated
// with openssl (ECDSA P-256) on first start, in `dir` (0700), keys 0600.
#ifndef CLOONIX_COMMON_PKI_H_
#define CLOONIX_COMMON_PKI_H_

#include <string>

#include "absl/status/statusor.h"

namespace cloonix {

inline constexpr char kDoorwayTlsName[] = "cloonix-doorway";

struct PkiFiles {
  std::string ca_cert, server_cert, server_key, client_cert, client_key;
};

PkiFiles PkiPaths(const std::string& dir);
// Creates what is missing. INTERNAL with openssl's message on failure.
absl::StatusOr<PkiFiles> EnsurePki(const std::string& dir,
                                   const std::string& net);

// Client credentials as exported by `cloonix net creds`: ca.pem,
// client.pem, client.key in one directory.
struct ClientCreds {
  std::string ca_pem, cert_pem, key_pem;
};
absl::StatusOr<ClientCreds> LoadClientCreds(const std::string& dir);

}  // namespace cloonix

#endif  // CLOONIX_COMMON_PKI_H_
