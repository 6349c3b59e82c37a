// The plugin ABI is the header alone; this file gives the C target a source.
#include "idem_plugin.h"
