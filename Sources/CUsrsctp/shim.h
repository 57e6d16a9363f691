// usrsctp (userspace SCTP, AF_CONN mode), as Debian's libusrsctp-dev installs it.
#pragma once
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <usrsctp.h>
