#include "services/orchestrator/topology.h"

#include "absl/strings/str_cat.h"
#include "common/error_reasons.h"
#include "common/grpc_status.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"

namespace cloonix {

absl::Status ItemNotFound(const std::string& name) {
  return WithReason(
      absl::NotFoundError(absl::StrCat("item ", name, " does not exist")),
      reason::kItemNotFound, {{"item", name}});
}

v1::ItemKind KindOf(const v1::Item& item) {
  switch (item.spec_case()) {
    case v1::Item::kLan:
      return v1::ITEM_KIND_LAN;
    case v1::Item::kCnt:
      return v1::ITEM_KIND_CNT;
    case v1::Item::kKvm:
      return v1::ITEM_KIND_KVM;
    case v1::Item::kNat:
      return v1::ITEM_KIND_NAT;
    case v1::Item::kTap:
      return v1::ITEM_KIND_TAP;
    case v1::Item::kPhy:
      return v1::ITEM_KIND_PHY;
    case v1::Item::kA2B:
      return v1::ITEM_KIND_A2B;
    case v1::Item::kC2C:
      return v1::ITEM_KIND_C2C;
    case v1::Item::SPEC_NOT_SET:
      break;
  }
  return v1::ITEM_KIND_UNSPECIFIED;
}

absl::StatusOr<v1::Item> Topology::PrepareCreate(
    const v1::Item& request) const {
  RETURN_IF_ERROR(ValidateName(request.name(), "item name"));
  if (Find(request.name()) != nullptr) {
    return WithReason(absl::AlreadyExistsError(absl::StrCat(
                          "an item named ", request.name(), " already exists (",
                          KindName(Find(request.name())->kind()),
                          "); names are unique in a net")),
                      reason::kItemExists, {{"item", request.name()}});
  }
  v1::ItemKind kind = KindOf(request);
  if (kind == v1::ITEM_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        "the item has no spec: set one of lan, cnt, kvm, nat, tap, phy, a2b, "
        "c2c");
  }
  const KindDriver* driver = ValidationDriver(kind);
  if (driver == nullptr) {  // the table misses a kind: a programming error
    return absl::InternalError(
        absl::StrCat("no driver for ", KindName(kind), " items"));
  }
  ASSIGN_OR_RETURN(uint32_t eth_count, driver->Validate(request));
  v1::Item item = request;
  item.set_kind(kind);
  item.set_id(state_.next_id() == 0 ? 1 : state_.next_id());
  item.set_state(v1::ITEM_STATE_CREATING);
  item.clear_state_message();
  item.clear_eths();
  for (uint32_t i = 0; i < eth_count; ++i) {
    auto* e = item.add_eths();
    e->set_index(i);
    e->set_port(EthPortName(item.id(), i));
    e->set_mac(DerivedMac(state_.net(), item.id(), i));
  }
  driver->Prepare(&item);
  return item;
}

void Topology::Commit(v1::Item item) {
  state_.set_next_id(item.id() + 1);
  *state_.add_items() = std::move(item);
}

absl::Status Topology::Adopt(v1::Item item) {
  for (const auto& it : state_.items()) {
    if (it.name() == item.name() || it.id() == item.id()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "cannot adopt ", item.name(), " (id ", item.id(), "): ", it.name(),
          " (id ", it.id(), ") holds that name or id"));
    }
  }
  if (item.id() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot adopt ", item.name(), ": no id"));
  }
  if (item.id() + 1 > state_.next_id()) state_.set_next_id(item.id() + 1);
  *state_.add_items() = std::move(item);
  return absl::OkStatus();
}

std::vector<std::string> Topology::Remove(const std::string& name) {
  std::vector<std::string> touched;
  auto* items = state_.mutable_items();
  for (int i = 0; i < items->size(); ++i) {
    if (items->Get(i).name() == name) {
      items->DeleteSubrange(i, 1);
      break;
    }
  }
  for (auto& it : *items) {
    bool changed = false;
    for (auto& e : *it.mutable_eths()) {
      if (e.lan() == name) {
        e.clear_lan();
        changed = true;
      }
    }
    if (changed) touched.push_back(it.name());
  }
  return touched;
}

const v1::Item* Topology::Find(const std::string& name) const {
  for (const auto& it : state_.items()) {
    if (it.name() == name) return &it;
  }
  return nullptr;
}

v1::Item* Topology::FindMutable(const std::string& name) {
  for (auto& it : *state_.mutable_items()) {
    if (it.name() == name) return &it;
  }
  return nullptr;
}

namespace {
absl::StatusOr<const v1::Eth*> FindEth(const v1::Item* it,
                                       const std::string& item, uint32_t eth) {
  if (it == nullptr) return ItemNotFound(item);
  if (it->kind() == v1::ITEM_KIND_LAN) {
    return absl::InvalidArgumentError(
        absl::StrCat(item, " is a lan: lans have no eth"));
  }
  if (eth >= static_cast<uint32_t>(it->eths_size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("eth", eth, " is out of range: ", item, " has ",
                     it->eths_size(), " eth", it->eths_size() == 1 ? "" : "s",
                     " (eth0..eth", it->eths_size() - 1, ")"));
  }
  return &it->eths(eth);
}
}  // namespace

absl::StatusOr<bool> Topology::CheckConnect(const std::string& item,
                                            uint32_t eth,
                                            const std::string& lan,
                                            bool create_lan) const {
  ASSIGN_OR_RETURN(const v1::Eth* e, FindEth(Find(item), item, eth));
  RETURN_IF_ERROR(ValidateName(lan, "lan name"));
  const v1::Item* l = Find(lan);
  if (l != nullptr && l->kind() != v1::ITEM_KIND_LAN) {
    return absl::FailedPreconditionError(
        absl::StrCat(lan, " is a ", KindName(l->kind()), ", not a lan"));
  }
  if (l == nullptr && !create_lan) {
    return absl::NotFoundError(absl::StrCat(
        "lan ", lan, " does not exist (create it first, or set create_lan)"));
  }
  if (!e->lan().empty() && e->lan() != lan) {
    return absl::FailedPreconditionError(
        absl::StrCat("eth", eth, " of ", item, " is cabled to lan ", e->lan(),
                     "; disconnect it first"));
  }
  // Two nats on one lan would both answer DHCP as 172.17.0.2.
  if (Find(item)->kind() == v1::ITEM_KIND_NAT) {
    for (const auto& other : state_.items()) {
      if (other.kind() != v1::ITEM_KIND_NAT || other.name() == item) continue;
      for (const auto& oe : other.eths()) {
        if (oe.lan() == lan) {
          return absl::FailedPreconditionError(
              absl::StrCat("lan ", lan, " already has nat ", other.name(),
                           ": a lan takes one nat (both would be 172.17.0.2)"));
        }
      }
    }
  }
  return l == nullptr;
}

absl::Status Topology::CheckDisconnect(const std::string& item, uint32_t eth,
                                       const std::string& lan) const {
  ASSIGN_OR_RETURN(const v1::Eth* e, FindEth(Find(item), item, eth));
  if (e->lan().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("eth", eth, " of ", item, " is not cabled"));
  }
  if (!lan.empty() && e->lan() != lan) {
    return absl::FailedPreconditionError(absl::StrCat("eth", eth, " of ", item,
                                                      " is cabled to lan ",
                                                      e->lan(), ", not ", lan));
  }
  return absl::OkStatus();
}

void Topology::SetCable(const std::string& item, uint32_t eth,
                        const std::string& lan) {
  v1::Item* it = FindMutable(item);
  if (it != nullptr && eth < static_cast<uint32_t>(it->eths_size())) {
    it->mutable_eths(eth)->set_lan(lan);
  }
}

v1::Item Topology::WithEndpoints(const v1::Item& item) const {
  v1::Item out = item;
  if (out.kind() != v1::ITEM_KIND_LAN) return out;
  out.mutable_lan()->clear_endpoints();
  for (const auto& it : state_.items()) {
    for (const auto& e : it.eths()) {
      if (e.lan() == item.name()) {
        auto* ref = out.mutable_lan()->add_endpoints();
        ref->set_item(it.name());
        ref->set_eth(e.index());
      }
    }
  }
  return out;
}

std::vector<v1::Item> Topology::Items() const {
  std::vector<v1::Item> out;
  for (const auto& it : state_.items()) out.push_back(WithEndpoints(it));
  return out;
}

std::map<std::string, std::vector<std::string>> Topology::DesiredBridges()
    const {
  std::map<std::string, std::vector<std::string>> m;
  for (const auto& it : state_.items()) {
    if (it.kind() == v1::ITEM_KIND_LAN) m[it.lan().bridge()];
  }
  for (const auto& it : state_.items()) {
    for (const auto& e : it.eths()) {
      if (e.lan().empty()) continue;
      const v1::Item* l = Find(e.lan());
      if (l != nullptr) m[l->lan().bridge()].push_back(e.port());
    }
  }
  return m;
}

std::string Topology::ToJson() const {
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(state_, &out, opts);
  return out;
}

absl::StatusOr<Topology> Topology::FromJson(const std::string& json) {
  Topology t("");
  auto s = google::protobuf::util::JsonStringToMessage(json, &t.state_);
  if (!s.ok()) {
    return absl::DataLossError(
        absl::StrCat("state file is not valid: ", s.ToString()));
  }
  return t;
}

}  // namespace cloonix
