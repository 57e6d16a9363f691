// libnice (ICE) and the GLib it runs on, as Debian's libnice-dev installs them.
#pragma once
#include <glib.h>
#include <glib-object.h>
#include <gio/gio.h>
#include <nice/agent.h>
