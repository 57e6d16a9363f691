#ifndef C_FUGITIVE_LAB_SHIM_H
#define C_FUGITIVE_LAB_SHIM_H

#include <stdint.h>

/// Opens a new TAP device called `name` (no packet-information header): the returned
/// descriptor reads the Ethernet frames the kernel sends out of the device and writes
/// frames the device receives. Non-blocking, close-on-exec. The device lives as long as
/// the descriptor. Returns the descriptor, or -errno.
int fugitive_tap_open(const char *name);

/// Waits until `fd` is readable or `timeout_ns` nanoseconds have passed (ppoll's
/// nanosecond timeout: poll's milliseconds are too coarse for a link's delay).
/// Returns 1 when readable, 0 on timeout, -errno on error.
int fugitive_wait_readable(int fd, int64_t timeout_ns);

/// Nanoseconds on the monotonic clock.
int64_t fugitive_monotonic_ns(void);

#endif
