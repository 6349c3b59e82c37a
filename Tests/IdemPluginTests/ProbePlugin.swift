/// A C plugin the tests compile at test time (``PluginFixtures/compileProbe(named:in:definitions:)``).
///
/// - `-DPROBE_ABI=N` reports ABI version N (1 reads no trace context, 3 is unknown); `-DPROBE_NO_HANDLE` leaves out
///   `idem_plugin_handle`.
/// - init fails, with a reason quoting the config, when the config contains `fail`; a config
///   `{"closed": "PATH"}` makes close write `closed` into PATH, `{"started": "PATH"}`
///   makes a `sleep:` call create PATH before it sleeps, and `{"finished": "PATH"}` after.
/// - handle: a body `sleep:MS` sleeps MS milliseconds and returns OK; a body `code:N`
///   returns N with the reason `probe reason`; any other body returns REJECT with the
///   message's fields (the calling thread's name, and from ABI 2 the trace context) as the
///   reason.
enum ProbePlugin {
    static let source = #"""
        #define _GNU_SOURCE
        #include "idem_plugin.h"
        #include <pthread.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>

        #ifndef PROBE_ABI
        #define PROBE_ABI IDEM_PLUGIN_ABI_VERSION
        #endif

        typedef struct { char closed[1024]; char started[1024]; char finished[1024]; } probe;

        /* Copies the string value of "key" in the config into `out` (no escapes). */
        static void copy_value(const char *config, const char *key, char *out, size_t capacity) {
            const char *at = strstr(config, key);
            if (at == NULL) return;
            const char *start = strchr(at + strlen(key), '"');
            const char *end = start ? strchr(start + 1, '"') : NULL;
            if (end != NULL && (size_t)(end - start - 1) < capacity) {
                memcpy(out, start + 1, (size_t)(end - start - 1));
            }
        }

        static void touch(const char *path, const char *text) {
            FILE *f = fopen(path, "w");
            if (f != NULL) {
                fputs(text, f);
                fclose(f);
            }
        }

        uint32_t idem_plugin_abi_version(void) { return PROBE_ABI; }

        int idem_plugin_init(const char *config, void **state, char *error, size_t capacity) {
            if (strstr(config, "fail") != NULL) {
                snprintf(error, capacity, "probe init refused: %s", config);
                return 3;
            }
            probe *p = calloc(1, sizeof *p);
            copy_value(config, "\"closed\"", p->closed, sizeof p->closed);
            copy_value(config, "\"started\"", p->started, sizeof p->started);
            copy_value(config, "\"finished\"", p->finished, sizeof p->finished);
            *state = p;
            return 0;
        }

        #ifndef PROBE_NO_HANDLE
        int idem_plugin_handle(void *state, const idem_message *m, char *error, size_t capacity) {
            probe *p = state;
            char body[512];
            size_t length = m->body_length < sizeof body - 1 ? m->body_length : sizeof body - 1;
            memcpy(body, m->body, length);
            body[length] = '\0';
            if (strncmp(body, "sleep:", 6) == 0) {
                if (p->started[0] != '\0') touch(p->started, "started");
                usleep((useconds_t)atoi(body + 6) * 1000);
                if (p->finished[0] != '\0') touch(p->finished, "finished");
                return IDEM_RESULT_OK;
            }
            if (strncmp(body, "code:", 5) == 0) {
                snprintf(error, capacity, "probe reason");
                return atoi(body + 5);
            }
            char thread[32] = "";
            pthread_getname_np(pthread_self(), thread, sizeof thread);
            int n = snprintf(error, capacity,
                "consumer=%s id=%s fence=%lld attempt=%d source=%s body=%s body_null=%d key=",
                m->consumer, m->id, (long long)m->fence, (int)m->attempt, m->source, body, m->body == NULL);
            if (m->key == NULL) {
                n += snprintf(error + n, capacity - n, "(null)");
            } else {
                n += snprintf(error + n, capacity - n, "%.*s", (int)m->key_length, (const char *)m->key);
            }
            n += snprintf(error + n, capacity - n, " headers=");
            for (size_t i = 0; i < m->header_count; i++) {
                const idem_header *h = &m->headers[i];
                if (h->value == NULL) {
                    n += snprintf(error + n, capacity - n, "%s%s=(null)", i ? "," : "", h->name);
                } else {
                    n += snprintf(error + n, capacity - n, "%s%s=%.*s", i ? "," : "", h->name,
                                  (int)h->value_length, (const char *)h->value);
                }
            }
            n += snprintf(error + n, capacity - n, " thread=%s", thread);
        #if PROBE_ABI >= 2
            snprintf(error + n, capacity - n, " traceparent=%s tracestate=%s",
                     m->traceparent ? m->traceparent : "(null)", m->tracestate ? m->tracestate : "(null)");
        #endif
            return IDEM_RESULT_REJECT;
        }
        #endif

        void idem_plugin_close(void *state) {
            probe *p = state;
            if (p->closed[0] != '\0') touch(p->closed, "closed");
            free(p);
        }
        """#
}
