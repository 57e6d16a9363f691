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

#if defined(__x86_64__)
#include <string.h>
__attribute__((target("sse4.2")))
static uint32_t fugitive_crc32c_sse42(const uint8_t *bytes, size_t length) {
    uint64_t crc = 0xffffffffu;
    for (; length >= 8; bytes += 8, length -= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        crc = __builtin_ia32_crc32di(crc, word);
    }
    uint32_t low = (uint32_t)crc;
    for (; length > 0; bytes++, length--) low = __builtin_ia32_crc32qi(low, *bytes);
    return ~low;
}
#endif

uint32_t fugitive_crc32c(const void *buffer, size_t length) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return fugitive_crc32c_sse42(buffer, length);
#endif
    return usrsctp_crc32c((void *)buffer, length);
}

EVP_PKEY *fugitive_ec_p256_key(void) { return EVP_EC_gen("P-256"); }

long fugitive_dtls_get_timeout(SSL *ssl, struct timeval *left) { return DTLSv1_get_timeout(ssl, left); }

long fugitive_dtls_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }

long fugitive_ssl_set_mtu(SSL *ssl, long mtu) { return SSL_set_mtu(ssl, mtu); }

uint64_t fugitive_ssl_op_no_query_mtu(void) { return SSL_OP_NO_QUERY_MTU; }
