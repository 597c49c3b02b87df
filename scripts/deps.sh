# Installs what Portico's scripts need on a fresh Debian machine, only when missing. Sourced by scripts/*.
install_deps() {
  local purpose="$1" pkgs=()
  command -v cc >/dev/null || pkgs+=(build-essential)
  command -v pkg-config >/dev/null || pkgs+=(pkg-config)
  pkg-config --exists webkit2gtk-4.1 2>/dev/null || pkgs+=(libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libsoup-3.0-dev)
  # The keychain's Secret Service backend (keyring's sync-secret-service) links libdbus.
  pkg-config --exists dbus-1 2>/dev/null || pkgs+=(libdbus-1-dev)
  command -v npm >/dev/null || pkgs+=(nodejs npm)
  python3 -c 'import venv, ensurepip' 2>/dev/null || pkgs+=(python3-venv)
  if [ "$purpose" = test ]; then
    command -v xvfb-run >/dev/null || pkgs+=(xvfb xauth)
    command -v WebKitWebDriver >/dev/null || pkgs+=(webkit2gtk-driver)
    command -v keyctl >/dev/null || pkgs+=(keyutils)
    command -v xclip >/dev/null || pkgs+=(xclip)
    # Remote-mode E2E: a test CA and server certificate (openssl), the opener's xdg-open.
    command -v openssl >/dev/null || pkgs+=(openssl)
    command -v xdg-open >/dev/null || pkgs+=(xdg-utils)
    # The keychain's persistent backend, tested against a real Secret Service in a D-Bus session of its own.
    command -v gnome-keyring-daemon >/dev/null || pkgs+=(gnome-keyring)
    command -v dbus-run-session >/dev/null || pkgs+=(dbus)
    # A real browser for the SMART flows (sign-in and consent pages): Debian's Chromium and its driver.
    command -v chromium >/dev/null || pkgs+=(chromium)
    command -v chromedriver >/dev/null || pkgs+=(chromium-driver)
  fi
  if [ ${#pkgs[@]} -gt 0 ]; then
    echo "==> installing ${pkgs[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}"
  fi
  command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
  if [ "$purpose" = test ] && ! command -v tauri-driver >/dev/null; then
    echo "==> cargo install tauri-driver"
    cargo install tauri-driver --locked --quiet
  fi
}
