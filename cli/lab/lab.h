// Lab files: a whole net described in YAML (docs/LABS.md, schema in
// docs/lab.schema.json), read into a Lab that `cloonix apply` reconciles the
// net to, `validate` checks without a net, `save` writes back and `graph`
// draws. containerlab topology files are read into the same Lab
// (ParseClab); what does not map is an error naming it.
//
// Errors carry the file's line and column (1-based), "file:line:col: msg".
#ifndef CLOONIX_CLI_LAB_LAB_H_
#define CLOONIX_CLI_LAB_LAB_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cloonix/v1/topology.pb.h"

namespace cloonix::cli::lab {

struct Pos {
  int line = 0;  // 1-based; 0: no place in a file
  int col = 0;
};

struct LabError {
  Pos pos;
  std::string msg;
};

// How apply knows an item is ready (its `wait:`).
enum class Wait {
  kNone,     // created is enough
  kRunning,  // state running (default for every kind but kvm)
  kAgent,    // kvm: its agent answers (default for kvm); cnt: running
  kCommand,  // `wait_command` exits 0 in the guest
};

struct LabItem {
  // What CreateItem takes: name, kind and spec (no eths: cables are apart).
  cloonix::v1::Item item;
  Pos pos;
  // eth index -> addresses with prefix length ("10.0.0.1/24", "fd00::1/64"),
  // set in the guest once it is ready (ip addr add; missing ones only).
  std::map<uint32_t, std::vector<std::string>> addresses;
  std::vector<std::string> exec;  // sh -c commands run once, after create
  Wait wait = Wait::kRunning;
  std::string wait_command;
  std::vector<std::string> depends_on;
  std::map<std::string, Pos> depends_pos;
  // a2b: the settings of each direction as the file gives them (over the
  // defaults: no impairment).
  cloonix::v1::A2bSettings a2b[2];
  std::string c2c_creds;  // c2c: dir of the peer's client credentials
  // `host:`: the name of the lab's host whose net the item is made in ("":
  // this net).
  std::string host;
  // A c2c end made by another net's c2c (JoinC2c): this net's part of the
  // lab cables it but never creates, deletes or remakes it.
  bool foreign = false;
  // An item of another net of the lab depends on it: apply waits until it
  // is ready even without --wait.
  bool awaited = false;
  // Where each key of the item is, for errors found after parsing.
  std::map<std::string, Pos> key_pos;
};

struct LabCable {
  std::string item;
  uint32_t eth = 0;
  std::string lan;
  Pos pos;
};

// `hosts:`: another host's net that items of the lab are placed in,
// reached through its doorway's TLS listener with the client credentials
// `cloonix net creds DIR` wrote on that host.
struct LabHost {
  std::string name;
  std::string address;  // HOST:PORT; from <creds>/address when not given
  std::string creds;    // dir of ca.pem, client.pem, client.key
  Pos pos;
};

struct Lab {
  std::string file;  // as given, for messages
  std::string net;   // "" when the file names none
  Pos net_pos;
  // `listen:`: HOST:PORT of the TLS listener apply starts this net with
  // when it is not running ("": none; a file with hosts: needs one for the
  // hosts' c2c ends to call back, and gets 0.0.0.0:0).
  std::string listen;
  std::map<std::string, LabHost> hosts;
  std::vector<LabItem> items;  // every kind but lan, in file order
  // Every lan: declared under lans: or items (kind lan), or named by a cable.
  std::map<std::string, Pos> lans;
  std::vector<LabCable> cables;
  // `layout:`: where items and lans are drawn (the gui's positions,
  // Topology.SetLayout), by name.
  std::map<std::string, cloonix::v1::Position> layout;
  std::map<std::string, Pos> layout_pos;

  const LabItem* Find(const std::string& name) const;
};

// Parses a lab file's text. Syntax and shape errors (unknown keys, wrong
// types, bad names, addresses, settings) go to *errors; the Lab holds what
// could be read. `file` names the file in messages.
Lab ParseLab(const std::string& text, const std::string& file,
             std::vector<LabError>* errors);

// Parses a containerlab topology (name:, topology: nodes/links) into a Lab:
// kind linux -> cnt (image, env, cmd, exec), bridge and ovs-bridge -> lan,
// endpoints "node:ethN" keep N (containerlab's eth0 is its management
// interface: eth0 stays uncabled), "host:<ifname>" -> a tap of that name.
// Anything else (other kinds, binds, ports, startup-config, ...) is an error
// naming it.
Lab ParseClab(const std::string& text, const std::string& file,
              std::vector<LabError>* errors);

// True when the text is a containerlab topology (a top-level `topology:`).
bool LooksLikeClab(const std::string& text);

// The checks that need the whole file: cables to unknown items or eths,
// an eth cabled twice, two nats on one lan, depends_on unknown items or in a
// cycle, a2b/nat/tap/phy/c2c eths, names used twice. `bulk_dir`: where
// images are looked for (kvm: <image>.qcow2 or <image>-vmlinux +
// <image>-initrd.img; cnt: <image>.tar or an OCI tarball path); "" skips
// the image checks. Registry references (a '/' or ':' in the name) are not
// checked (nothing is pulled before apply).
void CheckLab(const Lab& lab, const std::string& bulk_dir,
              std::vector<LabError>* errors);

// "file:line:col: msg" lines, in file order.
std::string FormatErrors(const std::string& file,
                         const std::vector<LabError>& errors);

// The c2c that joins lan `lan` of this net to host `host`'s net, for a lan
// whose cables are on both ("c2c-<lan>-<host>", or a hash when too long).
std::string C2cName(const std::string& lan, const std::string& host);

// A lab with hosts: split into one lab per net: "" for this net, and each
// host's name. A lan cabled on several nets is made on each of them and,
// on this net, joined to each host by a c2c (C2cName) that this net makes:
// in this net's lab a c2c item to the host's net (`host_nets`: host name ->
// the name of its net), in the host's lab a foreign item of the same name,
// cabled to the lan. Each lab keeps its own items, lans, cables and the
// depends_on between its items; an item of this net that depends on a
// host's item makes the host's apply wait for that item. Without hosts:,
// {"": lab}.
std::map<std::string, Lab> SplitByHost(
    const Lab& lab, const std::map<std::string, std::string>& host_nets);

// Makes relative paths of the file (hosts' and c2c items' creds) relative
// to the directory of `file` (not of the current directory); "-": kept.
void ResolvePaths(const std::string& file, Lab* lab);

// The name of the lan a point-to-point cable (item:eth -- item:eth) makes.
std::string P2pLanName(const std::string& a, uint32_t ea, const std::string& b,
                       uint32_t eb);

// The eth count an item needs: its spec's, else the highest eth its cables
// and addresses name + 1 (at least 1).
uint32_t EthCount(const Lab& lab, const LabItem& item);

// What natplug made in a net (its nats and their lans, and the eths of the
// owners cabled to them): they belong to their owner's natplug setting, so
// apply leaves them alone and save leaves them out.
struct NatplugOwned {
  std::set<std::string> items;                      // nats and lans
  std::set<std::pair<std::string, uint32_t>> eths;  // item, eth
};
NatplugOwned FindNatplugOwned(const std::vector<cloonix::v1::Item>& items);

// The net as a lab file (cloonix save): items with their settings, lans,
// cables; natplug-made nats and lans are left to their item's natplug.
std::string SaveLab(const std::string& net,
                    const std::vector<cloonix::v1::Item>& items);

// The lab as Mermaid (flowchart) or Graphviz dot text.
std::string GraphLab(const Lab& lab, const std::string& format);

// The lab of a running net, for graph without -f.
Lab LabFromItems(const std::string& net,
                 const std::vector<cloonix::v1::Item>& items);

}  // namespace cloonix::cli::lab

#endif  // CLOONIX_CLI_LAB_LAB_H_
