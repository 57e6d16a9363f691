// What Swift cannot call directly in libnice/GLib, OpenSSL and usrsctp: variadic
// functions and function-like macros. Each wrapper is one call; the only logic here is
// one hot loop that needs a CPU instruction Swift cannot name (CRC32c).
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <sys/time.h>
#include <glib.h>
#include <glib-object.h>
#include <nice/agent.h>
#include <openssl/ssl.h>
#include <openssl/bio.h>
#include <usrsctp.h>

// ---- GLib ----
void fugitive_g_object_set_boolean(gpointer object, const char *property, gboolean value);
void fugitive_g_object_set_uint(gpointer object, const char *property, guint value);
void fugitive_g_object_set_string(gpointer object, const char *property, const char *value);
/// g_signal_connect is a macro; the callback comes as an untyped pointer so that Swift
/// can pass any @convention(c) function.
gulong fugitive_g_signal_connect(gpointer instance, const char *signal, const void *callback, gpointer data);

// ---- usrsctp ----
/// usrsctp_init_nothreads with an optional debug printer (a variadic callback, which
/// Swift cannot define).
void fugitive_usrsctp_init(int (*conn_output)(void *address, void *buffer, size_t length, uint8_t tos, uint8_t set_df),
                           int debug);

/// SCTP's CRC32c of `length` bytes, ready to store in the common header: the same value
/// as usrsctp_crc32c, with SSE 4.2's crc32 instruction where the CPU has it (about 20
/// times faster than usrsctp's tables, which matters once packets are large).
uint32_t fugitive_crc32c(const void *buffer, size_t length);

// ---- OpenSSL ----
/// EVP_EC_gen("P-256"): a macro over the variadic EVP_PKEY_Q_keygen.
EVP_PKEY *fugitive_ec_p256_key(void);
/// DTLSv1_get_timeout: 1 and the time left when a retransmission timer runs.
long fugitive_dtls_get_timeout(SSL *ssl, struct timeval *left);
/// DTLSv1_handle_timeout: retransmits the last flight if its timer expired.
long fugitive_dtls_handle_timeout(SSL *ssl);
/// SSL_set_mtu: the largest datagram DTLS may write.
long fugitive_ssl_set_mtu(SSL *ssl, long mtu);
/// SSL_OP_NO_QUERY_MTU: take the MTU from fugitive_ssl_set_mtu, not from a socket.
uint64_t fugitive_ssl_op_no_query_mtu(void);
