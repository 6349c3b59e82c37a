/*
 * The four functions the example plugin exports (the ABI of idem_plugin.h), declared with
 * the ABI's types so that the compiler checks their definitions in example_plugin.c.
 * idem itself needs no header: it finds the functions with dlsym(3).
 */
#ifndef IDEM_EXAMPLE_PLUGIN_H
#define IDEM_EXAMPLE_PLUGIN_H

#include "idem_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

uint32_t idem_plugin_abi_version(void);
int idem_plugin_init(const char *config_json, void **state, char *error, size_t error_capacity);
int idem_plugin_handle(void *state, const idem_message *message, char *error, size_t error_capacity);
void idem_plugin_close(void *state);

#ifdef __cplusplus
}
#endif

#endif /* IDEM_EXAMPLE_PLUGIN_H */
