#include "CFugitiveRTCShim.h"
#include <stdarg.h>
#include <stdio.h>
#include <openssl/evp.h>

void fugitive_g_object_set_boolean(gpointer object, const char *property, gboolean value) {
    g_object_set(object, property, value, NULL);
}

void fugitive_g_object_set_uint(gpointer object, const char *property, guint value) {
    g_object_set(object, property, value, NULL);
}

void fugitive_g_object_set_string(gpointer object, const char *property, const char *value) {
    g_object_set(object, property, value, NULL);
}

gulong fugitive_g_signal_connect(gpointer instance, const char *signal, const void *callback, gpointer data) {
    return g_signal_connect(instance, signal, G_CALLBACK(callback), data);
}

static void fugitive_usrsctp_debug(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vfprintf(stderr, format, arguments);
    va_end(arguments);
}

void fugitive_usrsctp_init(int (*conn_output)(void *, void *, size_t, uint8_t, uint8_t), int debug) {
    usrsctp_init_nothreads(0, conn_output, debug ? fugitive_usrsctp_debug : NULL);
}

EVP_PKEY *fugitive_ec_p256_key(void) { return EVP_EC_gen("P-256"); }

long fugitive_dtls_get_timeout(SSL *ssl, struct timeval *left) { return DTLSv1_get_timeout(ssl, left); }

long fugitive_dtls_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }

long fugitive_ssl_set_mtu(SSL *ssl, long mtu) { return SSL_set_mtu(ssl, mtu); }

uint64_t fugitive_ssl_op_no_query_mtu(void) { return SSL_OP_NO_QUERY_MTU; }
