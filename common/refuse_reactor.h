// A bidi callback reactor that answers a call at once with a status (a
// method a service does not serve for a reason it states).
#ifndef CLOONIX_COMMON_REFUSE_REACTOR_H_
#define CLOONIX_COMMON_REFUSE_REACTOR_H_

#include <utility>

#include "grpcpp/grpcpp.h"

namespace cloonix {

template <typename Req, typename Resp>
class RefuseBidi : public grpc::ServerBidiReactor<Req, Resp> {
 public:
  explicit RefuseBidi(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace cloonix

#endif  // CLOONIX_COMMON_REFUSE_REACTOR_H_
