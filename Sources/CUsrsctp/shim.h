// usrsctp (userspace SCTP, AF_CONN mode), as Debian's libusrsctp-dev installs it.
#pragma once
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <usrsctp.h>

// In usrsctp's sctp.h/sctp_uio.h but not in the installed usrsctp.h: the bytes an
// association has queued to send (what SCTP_SENDER_DRY and the send callback are about).
#ifndef SCTP_GET_SNDBUF_USE
#define SCTP_GET_SNDBUF_USE 0x00001101
struct sctp_sockstat {
    sctp_assoc_t ss_assoc_id;
    uint32_t ss_total_sndbuf;
    uint32_t ss_total_recv_buf;
};
#endif
