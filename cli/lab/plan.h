// What `cloonix apply` changes to bring a net to a lab file: the difference
// between the Lab and the net's items (ListItems), as steps. Pure: no RPC, so
// unit-tested with made-up nets.
#ifndef CLOONIX_CLI_LAB_PLAN_H_
#define CLOONIX_CLI_LAB_PLAN_H_

#include <string>
#include <vector>

#include "cli/lab/lab.h"
#include "cloonix/v1/topology.pb.h"

namespace cloonix::cli::lab {

struct A2bChange {
  std::string name;
  uint32_t dir = 0;
  cloonix::v1::A2bSettings settings;  // the whole direction, as the file says
};

struct Plan {
  // Items the file no longer has, and items whose settings changed in a
  // way only a new item gives (image, ram, eths, ...): deleted first.
  std::vector<std::string> deletes;
  // name -> why it is made again ("image tiny -> deb12.qcow2").
  std::map<std::string, std::string> recreate;
  std::vector<const LabItem*> creates;  // missing or recreated, file order
  std::vector<A2bChange> a2b;           // live changes
  std::vector<LabCable> uncables;       // cables of kept items that go
  std::vector<LabCable> cables;         // cables to make (created items too)
  std::vector<std::string> lan_creates;
  std::vector<std::string> lan_deletes;  // after the uncabling

  size_t Changes() const {
    return deletes.size() + creates.size() + a2b.size() + uncables.size() +
           cables.size() + lan_creates.size() + lan_deletes.size() -
           recreate.size();  // a recreate is one change, not two
  }
  // The plan as lines ("+ cnt c1", "- kvm vm3", "~ a2b ab1 dir0: delay
  // 10 ms -> 40 ms", "+ cable c1:eth0 -- lan2", ...), or "no changes".
  std::string Text(const std::vector<cloonix::v1::Item>& current) const;
};

// `current`: the net's items (ListItems). Items made by a natplug (their nat
// and lan) belong to their owner and are left alone. Foreign items (a c2c
// end another net of the lab makes) are never created, deleted or remade;
// their cables wait until they exist.
Plan MakePlan(const Lab& lab, const std::vector<cloonix::v1::Item>& current);

// Why `want` (from a file) needs a new item in place of `have` (the net's),
// or "" when the item can stay.
std::string RecreateReason(const cloonix::v1::Item& want,
                           const cloonix::v1::Item& have);

}  // namespace cloonix::cli::lab

#endif  // CLOONIX_CLI_LAB_PLAN_H_
