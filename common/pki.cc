#include "common/pki.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/exec.h"
#include "common/process.h"
#include "common/status_macros.h"

namespace cloonix {
namespace {

bool Exists(const std::string& p) { return access(p.c_str(), R_OK) == 0; }

absl::Status Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  auto r = ExecOk(args, absl::StatusCode::kInternal, absl::Seconds(30));
  return r.status();
}

absl::Status NewKey(const std::string& path) {
  mode_t old = umask(0077);
  absl::Status s = Openssl({"genpkey", "-algorithm", "EC", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-out", path});
  umask(old);
  if (s.ok()) chmod(path.c_str(), 0600);
  return s;
}

absl::Status Issue(const std::string& dir, const PkiFiles& f,
                   const std::string& key, const std::string& cert,
                   const std::string& cn, const std::string& ext) {
  RETURN_IF_ERROR(NewKey(key));
  std::string csr = dir + "/req.csr";
  std::string extfile = dir + "/req.ext";
  RETURN_IF_ERROR(WriteFileAtomic(extfile, ext));
  absl::Status s =
      Openssl({"req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", csr});
  if (s.ok()) {
    s = Openssl({"x509", "-req", "-in", csr, "-CA", f.ca_cert, "-CAkey",
                 dir + "/ca.key", "-CAcreateserial", "-days", "825", "-sha256",
                 "-extfile", extfile, "-out", cert});
  }
  unlink(csr.c_str());
  unlink(extfile.c_str());
  return s;
}

}  // namespace

PkiFiles PkiPaths(const std::string& dir) {
  return {dir + "/ca.pem", dir + "/server.pem", dir + "/server.key",
          dir + "/client.pem", dir + "/client.key"};
}

absl::StatusOr<PkiFiles> EnsurePki(const std::string& dir,
                                   const std::string& net) {
  RETURN_IF_ERROR(MakeDirs(dir, 0700));
  PkiFiles f = PkiPaths(dir);
  std::string ca_key = dir + "/ca.key";
  if (!Exists(f.ca_cert) || !Exists(ca_key)) {
    RETURN_IF_ERROR(NewKey(ca_key));
    RETURN_IF_ERROR(Openssl({"req", "-x509", "-new", "-key", ca_key, "-subj",
                             absl::StrCat("/CN=cloonix net ", net, " CA"),
                             "-days", "3650", "-sha256", "-out", f.ca_cert}));
    unlink(f.server_cert.c_str());
    unlink(f.client_cert.c_str());
  }
  if (!Exists(f.server_cert) || !Exists(f.server_key)) {
    RETURN_IF_ERROR(Issue(dir, f, f.server_key, f.server_cert, kDoorwayTlsName,
                          absl::StrCat("subjectAltName=DNS:", kDoorwayTlsName,
                                       ",DNS:localhost,IP:127.0.0.1,IP:::1\n"
                                       "extendedKeyUsage=serverAuth\n")));
  }
  if (!Exists(f.client_cert) || !Exists(f.client_key)) {
    RETURN_IF_ERROR(Issue(dir, f, f.client_key, f.client_cert,
                          absl::StrCat("cloonix ", net, " client"),
                          "extendedKeyUsage=clientAuth\n"));
  }
  return f;
}

absl::StatusOr<ClientCreds> LoadClientCreds(const std::string& dir) {
  ClientCreds c;
  auto read = [&](const std::string& name, std::string* out) -> absl::Status {
    auto r = ReadFile(dir + "/" + name);
    if (!r.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot read ", dir, "/", name,
          ": export the net's credentials with `cloonix net creds`"));
    }
    *out = *r;
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(read("ca.pem", &c.ca_pem));
  RETURN_IF_ERROR(read("client.pem", &c.cert_pem));
  RETURN_IF_ERROR(read("client.key", &c.key_pem));
  return c;
}

}  // namespace cloonix
