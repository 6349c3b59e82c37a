/*
 * idem plugin ABI, version 2.
 *
 * A `plugin` handler is a shared library that idem loads with dlopen(3) (RTLD_NOW |
 * RTLD_LOCAL | RTLD_NODELETE: it is never unmapped). It exports the four functions below,
 * with C linkage. idem checks the ABI version first and refuses a library built against
 * a version it does not know. Version 2 only appends the trace context to idem_message, so
 * idem still loads version 1 plugins (which do not read it). docs/plugins.md describes the
 * ABI in full.
 *
 *   uint32_t idem_plugin_abi_version(void);
 *       Returns IDEM_PLUGIN_ABI_VERSION as the plugin was compiled with.
 *
 *   int idem_plugin_init(const char *config_json, void **state,
 *                        char *error, size_t error_capacity);
 *       Called once at startup with the handler's `config` as a JSON text (`{}` when the
 *       configuration gives none; valid during the call only). Stores whatever the plugin
 *       needs in *state (passed back to every other call). Returns 0 on success; otherwise
 *       writes a NUL-terminated reason into `error` (at most error_capacity bytes, the NUL
 *       included; idem passes 4096) and returns non-zero, and idem does not start. After
 *       a failed init idem calls nothing else: free what was allocated before returning.
 *
 *   int idem_plugin_handle(void *state, const idem_message *message,
 *                          char *error, size_t error_capacity);
 *       Handles one message. Returns IDEM_RESULT_OK, IDEM_RESULT_RETRY (a transient
 *       failure: the message is tried again after the retry policy's backoff) or
 *       IDEM_RESULT_REJECT (a permanent failure: the message is dead-lettered). For RETRY
 *       and REJECT the plugin may write a NUL-terminated reason into `error`; it becomes
 *       the message's last error and the dead letter's x-idem-last-error header. Any other
 *       return value counts as RETRY.
 *       idem may call this from several threads at once (up to the handler's
 *       `concurrency`), from threads other than the one that called init; they are
 *       threads of idem's own, so the call may block. A plugin whose state is not
 *       thread-safe sets `concurrency: 1` or locks. Every pointer in `message`, and `error`, is valid
 *       only during the call. A call that outlives the handler's `timeout` is not
 *       interrupted: idem counts the message as RETRY, and discards the result once the
 *       call returns. Never let an exception or panic unwind out of this function.
 *
 *   void idem_plugin_close(void *state);
 *       Called once when idem stops, after the last idem_plugin_handle has returned (if a
 *       call is still stuck when idem gives up waiting, close is not called at all).
 */
#ifndef IDEM_PLUGIN_H
#define IDEM_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The version of this ABI. A change to any type or function below bumps it. */
#define IDEM_PLUGIN_ABI_VERSION 2u

/** The result codes of idem_plugin_handle. */
enum {
    IDEM_RESULT_OK = 0,
    IDEM_RESULT_RETRY = 1,
    IDEM_RESULT_REJECT = 2,
};

/** A message header. The name is NUL-terminated; the value is bytes (not NUL-terminated):
 *  an AMQP text or a Kafka header's bytes, a number or boolean as its decimal text, and
 *  NULL with length 0 when the header has no value (AMQP void, nested tables and arrays). */
typedef struct idem_header {
    const char *name;
    const uint8_t *value;
    size_t value_length;
} idem_header;

/** One message, as idem hands it to a plugin. */
typedef struct idem_message {
    /** The consumer's name. */
    const char *consumer;
    /** The message ID idem derived: pass it downstream as an idempotency key. */
    const char *id;
    /** The claim's fencing token: pass it downstream so that a stale worker is refused. */
    int64_t fence;
    /** 1 for the first try, then 2, 3, … across redeliveries and workers. */
    int32_t attempt;
    /** Where the message came from: `topic:partition:offset` or `amqp:QUEUE`. */
    const char *source;
    /** The body (not NUL-terminated; never NULL, even when body_length is 0). */
    const uint8_t *body;
    size_t body_length;
    /** The Kafka record key, or NULL. */
    const uint8_t *key;
    size_t key_length;
    /** The headers (AMQP header table entries, Kafka record headers), sorted by name;
     *  NULL when header_count is 0. */
    const idem_header *headers;
    size_t header_count;
    /** Version 2: the message's W3C `traceparent` header (NUL-terminated), when it carries a
     *  valid one; otherwise NULL. Continue the producer's trace with it. */
    const char *traceparent;
    /** Version 2: its `tracestate` header, when present and valid; otherwise NULL. */
    const char *tracestate;
} idem_message;

typedef uint32_t (*idem_plugin_abi_version_fn)(void);
typedef int (*idem_plugin_init_fn)(const char *config_json, void **state, char *error, size_t error_capacity);
typedef int (*idem_plugin_handle_fn)(void *state, const idem_message *message, char *error, size_t error_capacity);
typedef void (*idem_plugin_close_fn)(void *state);

#ifdef __cplusplus
}
#endif

#endif /* IDEM_PLUGIN_H */
