// The gui's web files, embedded in the cloonix binary at build time
// (tools/embed_assets.py over cli/gui/web: our page and the libraries
// tools/gui-bundle.sh copied from npm into cli/gui/web/vendor).
#ifndef CLOONIX_CLI_GUI_ASSETS_H_
#define CLOONIX_CLI_GUI_ASSETS_H_

#include <cstddef>
#include <string_view>

namespace cloonix::cli::gui {

struct GuiAsset {
  const char* path;          // "/index.html", "/vendor/xterm.js"
  const char* content_type;  // "text/html; charset=utf-8"
  const char* data;
  size_t size;  // bytes
};

// The file served at `path`, or null.
const GuiAsset* FindGuiAsset(std::string_view path);

}  // namespace cloonix::cli::gui

#endif  // CLOONIX_CLI_GUI_ASSETS_H_
