// libFuzzer target: what the orchestrator takes from outside. The first byte
// picks the parser:
//   even: the rest is a state.json (Topology::FromJson, as loaded at start);
//   odd:  the rest is a serialized cloonix.v1.Item, as a CreateItem request
//         carries it: validated and, if accepted, committed, cabled and
//         saved, then the saved state must load again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cloonix/v1/topology.pb.h"
#include "services/orchestrator/topology.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto t = cloonix::Topology::FromJson(rest);
    if (t.ok()) {
      // What loads must save and load again.
      auto again = cloonix::Topology::FromJson(t->ToJson());
      if (!again.ok()) abort();
    }
    return 0;
  }
  cloonix::v1::Item req;
  if (!req.ParseFromString(rest)) return 0;
  cloonix::Topology t("fuzz");
  cloonix::v1::Item lan;
  lan.set_name("lan1");
  lan.mutable_lan();
  auto l = t.PrepareCreate(lan);
  if (!l.ok()) abort();
  t.Commit(*l);
  auto it = t.PrepareCreate(req);
  if (!it.ok()) return 0;
  t.Commit(*it);
  for (uint32_t eth = 0; eth < 3; ++eth) {
    auto need = t.CheckConnect(it->name(), eth, "lan1", false);
    if (need.ok()) t.SetCable(it->name(), eth, "lan1");
  }
  auto back = cloonix::Topology::FromJson(t.ToJson());
  if (!back.ok()) abort();  // an accepted request must never break the state
  return 0;
}
