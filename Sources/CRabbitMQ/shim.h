#pragma once
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <amqp_framing.h>

/* Swift cannot call C variadic functions: a fixed-argument wrapper of
   amqp_login_with_properties for SASL PLAIN. */
static inline amqp_rpc_reply_t idem_amqp_login_plain(
    amqp_connection_state_t state, char const *vhost, int channel_max,
    int frame_max, int heartbeat, const amqp_table_t *client_properties,
    char const *user, char const *password) {
  return amqp_login_with_properties(state, vhost, channel_max, frame_max,
                                    heartbeat, client_properties,
                                    AMQP_SASL_METHOD_PLAIN, user, password);
}
