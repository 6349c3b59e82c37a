/*
 * An example idem plugin in C (docs/plugins.md).
 *
 * Configuration (the handler's `config`, as JSON; every key optional):
 *   out            a file to which each handled message's ID is appended, one line each
 *                  (created if missing; the directory must exist, or init fails)
 *   reject_marker  a byte string; a body containing it is rejected
 *                  (default: the 14 bytes  "reject": true  as in {"id": 7, "reject": true})
 *   retry_marker   a byte string; a body containing it yields RETRY
 *                  (default: the 13 bytes  "retry": true)
 *                  An empty marker never matches.
 *
 * For each message: the reject marker → REJECT "rejected by the example plugin: body
 * contains <marker>"; else the retry marker → RETRY "retry requested by the example plugin:
 * body contains <marker>"; else the ID is appended to `out` (if set) and the result is OK.
 * A failed append is RETRY with the error.
 *
 * The configuration parser is deliberately minimal: it finds `"key"` followed by `:` and a
 * JSON string anywhere in the text (escapes \" \\ \/ \b \f \n \r \t and \u00XX are decoded;
 * other \u escapes are refused) and ignores everything else. A real plugin uses a JSON
 * library.
 *
 * Build alone (from the repository's root):
 *   cc -shared -fPIC -O2 -I Sources/CIdemPlugin/include -I Examples/Plugins/CExample/include \
 *      -o libexample.so Examples/Plugins/CExample/example_plugin.c -lpthread
 */
#define _GNU_SOURCE /* memmem */
#include "example_plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXAMPLE_DEFAULT_REJECT_MARKER "\"reject\": true"
#define EXAMPLE_DEFAULT_RETRY_MARKER "\"retry\": true"
#define EXAMPLE_MAX_STRING 4096

/* One loaded handler's state: idem may load the library for several handlers, so nothing
 * lives in globals. */
typedef struct example_state {
    int out_fd; /* -1 when `out` is not set */
    pthread_mutex_t out_lock;
    char *reject_marker;
    size_t reject_length;
    char *retry_marker;
    size_t retry_length;
} example_state;

/* example_plugin.h declares the four exported functions, so the compiler checks the
 * definitions below against it; these assertions check it against the ABI's types. */
_Static_assert(__builtin_types_compatible_p(__typeof__(&idem_plugin_abi_version), idem_plugin_abi_version_fn),
               "idem_plugin_abi_version");
_Static_assert(__builtin_types_compatible_p(__typeof__(&idem_plugin_init), idem_plugin_init_fn), "idem_plugin_init");
_Static_assert(__builtin_types_compatible_p(__typeof__(&idem_plugin_handle), idem_plugin_handle_fn),
               "idem_plugin_handle");
_Static_assert(__builtin_types_compatible_p(__typeof__(&idem_plugin_close), idem_plugin_close_fn),
               "idem_plugin_close");

static void set_error(char *error, size_t capacity, const char *format, ...) {
    if (error == NULL || capacity == 0) return;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, capacity, format, arguments);
    va_end(arguments);
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Finds "key": "value" in `json` and decodes the value into a new string in *value.
 * Returns 0 when found, 1 when absent, -1 (with a reason) when the value is malformed. */
static int find_string(const char *json, const char *key, char **value, char *error, size_t capacity) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *at = json;
    while ((at = strstr(at, pattern)) != NULL) {
        const char *p = at + strlen(pattern);
        at = p;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (*p != ':') continue; /* the key text appeared as a value, not as a key */
        p++;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (*p != '"') {
            set_error(error, capacity, "config key \"%s\" must be a string", key);
            return -1;
        }
        p++;
        char *out = malloc(EXAMPLE_MAX_STRING);
        if (out == NULL) {
            set_error(error, capacity, "out of memory");
            return -1;
        }
        size_t length = 0;
        while (*p != '"') {
            char c = *p++;
            if (c == '\0') {
                free(out);
                set_error(error, capacity, "config key \"%s\": unterminated string", key);
                return -1;
            }
            if (c == '\\') {
                char escape = *p++;
                switch (escape) {
                case '"': c = '"'; break;
                case '\\': c = '\\'; break;
                case '/': c = '/'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'n': c = '\n'; break;
                case 'r': c = '\r'; break;
                case 't': c = '\t'; break;
                case 'u': {
                    int d0 = hex_digit(p[0]), d1 = d0 < 0 ? -1 : hex_digit(p[1]);
                    int d2 = d1 < 0 ? -1 : hex_digit(p[2]), d3 = d2 < 0 ? -1 : hex_digit(p[3]);
                    if (d3 < 0 || d0 != 0 || d1 != 0 || (d2 == 0 && d3 == 0)) {
                        free(out);
                        set_error(error, capacity, "config key \"%s\": only \\u0001 to \\u00ff are supported", key);
                        return -1;
                    }
                    c = (char)(d2 * 16 + d3);
                    p += 4;
                    break;
                }
                default:
                    free(out);
                    set_error(error, capacity, "config key \"%s\": invalid escape", key);
                    return -1;
                }
            }
            if (length + 1 >= EXAMPLE_MAX_STRING) {
                free(out);
                set_error(error, capacity, "config key \"%s\": longer than %d bytes", key, EXAMPLE_MAX_STRING - 1);
                return -1;
            }
            out[length++] = c;
        }
        out[length] = '\0';
        *value = out;
        return 0;
    }
    return 1;
}

static void free_state(example_state *state) {
    if (state->out_fd >= 0) close(state->out_fd);
    pthread_mutex_destroy(&state->out_lock);
    free(state->reject_marker);
    free(state->retry_marker);
    free(state);
}

uint32_t idem_plugin_abi_version(void) { return IDEM_PLUGIN_ABI_VERSION; }

int idem_plugin_init(const char *config_json, void **state_out, char *error, size_t capacity) {
    example_state *state = calloc(1, sizeof *state);
    if (state == NULL) {
        set_error(error, capacity, "out of memory");
        return 1;
    }
    state->out_fd = -1;
    pthread_mutex_init(&state->out_lock, NULL);

    char *out = NULL;
    if (find_string(config_json, "out", &out, error, capacity) < 0
        || find_string(config_json, "reject_marker", &state->reject_marker, error, capacity) < 0
        || find_string(config_json, "retry_marker", &state->retry_marker, error, capacity) < 0) {
        free(out);
        free_state(state);
        return 1;
    }
    if (state->reject_marker == NULL) state->reject_marker = strdup(EXAMPLE_DEFAULT_REJECT_MARKER);
    if (state->retry_marker == NULL) state->retry_marker = strdup(EXAMPLE_DEFAULT_RETRY_MARKER);
    if (state->reject_marker == NULL || state->retry_marker == NULL) {
        free(out);
        free_state(state);
        set_error(error, capacity, "out of memory");
        return 1;
    }
    state->reject_length = strlen(state->reject_marker);
    state->retry_length = strlen(state->retry_marker);

    if (out != NULL) {
        state->out_fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (state->out_fd < 0) {
            set_error(error, capacity, "cannot open the out file %s: %s", out, strerror(errno));
            free(out);
            free_state(state);
            return 1;
        }
        free(out);
    }
    *state_out = state;
    return 0;
}

/* Whether `body` contains `marker` (an empty marker never matches). */
static int contains(const uint8_t *body, size_t body_length, const char *marker, size_t marker_length) {
    return marker_length > 0 && memmem(body, body_length, marker, marker_length) != NULL;
}

/* Appends `line` (with its newline) to the out file, all of it. */
static int append_line(example_state *state, const char *line, size_t length) {
    int result = 0;
    pthread_mutex_lock(&state->out_lock);
    while (length > 0) {
        ssize_t written = write(state->out_fd, line, length);
        if (written < 0) {
            if (errno == EINTR) continue;
            result = errno;
            break;
        }
        line += written;
        length -= (size_t)written;
    }
    pthread_mutex_unlock(&state->out_lock);
    return result;
}

int idem_plugin_handle(void *opaque, const idem_message *message, char *error, size_t capacity) {
    example_state *state = opaque;
    if (contains(message->body, message->body_length, state->reject_marker, state->reject_length)) {
        set_error(error, capacity, "rejected by the example plugin: body contains %s", state->reject_marker);
        return IDEM_RESULT_REJECT;
    }
    if (contains(message->body, message->body_length, state->retry_marker, state->retry_length)) {
        set_error(error, capacity, "retry requested by the example plugin: body contains %s", state->retry_marker);
        return IDEM_RESULT_RETRY;
    }
    if (state->out_fd >= 0) {
        size_t id_length = strlen(message->id);
        char stack_line[256];
        char *line = id_length + 1 <= sizeof stack_line ? stack_line : malloc(id_length + 1);
        if (line == NULL) {
            set_error(error, capacity, "out of memory");
            return IDEM_RESULT_RETRY;
        }
        memcpy(line, message->id, id_length);
        line[id_length] = '\n';
        int failure = append_line(state, line, id_length + 1);
        if (line != stack_line) free(line);
        if (failure != 0) {
            set_error(error, capacity, "cannot append to the out file: %s", strerror(failure));
            return IDEM_RESULT_RETRY;
        }
    }
    return IDEM_RESULT_OK;
}

void idem_plugin_close(void *opaque) {
    if (opaque != NULL) free_state(opaque);
}
