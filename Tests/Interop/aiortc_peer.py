"""An aiortc peer driven over stdin/stdout, for FugitiveRTC's interop tests.

Signalling is one JSON object per line, both ways (this side stays until its stdin closes):
  {"type": "offer"|"answer", "sdp": "..."}
  {"type": "candidate", "candidate": "candidate:..."|null, "mid": "0"}   (null = end)
and at the end this side prints
  {"type": "done", "sent": <sha256 hex>, "received": <sha256 hex>, "bytes": <n>}
after sending --bytes of a pseudo-random pattern in --size messages on the channel
and receiving --bytes from the other side on it.

  --role offer|answer     who makes the offer
  --channel local|remote  who creates the data channel
"""

import argparse
import asyncio
import hashlib
import json
import os
import signal
import sys

import aioice.ice

# aioice leaves out loopback addresses; the tests run on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.sdp import candidate_from_sdp  # noqa: E402


# A parent that spawned us from a thread with signals blocked passes the mask on.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def lines():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        yield json.loads(line)


async def transfer(channel, total, size, done):
    """Sends `total` bytes and hashes what arrives until `total` bytes came."""
    received = hashlib.sha256()
    count = 0
    finished = asyncio.Event()

    @channel.on("message")
    def on_message(message):
        nonlocal count
        data = message.encode() if isinstance(message, str) else message
        received.update(data)
        count += len(data)
        if count >= total:
            finished.set()

    sent = hashlib.sha256()
    channel.bufferedAmountLowThreshold = 1 << 20
    low = asyncio.Event()
    channel.on("bufferedamountlow", low.set)
    offset = 0
    while offset < total:
        chunk = os.urandom(min(size, total - offset))
        sent.update(chunk)
        channel.send(chunk)
        offset += len(chunk)
        if channel.bufferedAmount > 4 << 20:
            low.clear()
            await low.wait()
    await finished.wait()
    done.set_result({"type": "done", "sent": sent.hexdigest(), "received": received.hexdigest(), "bytes": count})


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["offer", "answer"], required=True)
    parser.add_argument("--channel", choices=["local", "remote"], required=True)
    parser.add_argument("--bytes", type=int, default=10_000_000)
    parser.add_argument("--size", type=int, default=16 * 1024)
    args = parser.parse_args()

    # No STUN server: aiortc's default (a public one) is unreachable from test machines.
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    done = asyncio.get_running_loop().create_future()

    def start(channel):
        asyncio.ensure_future(transfer(channel, args.bytes, args.size, done))

    if args.channel == "local":
        channel = pc.createDataChannel("from-peer")
        channel.on("open", lambda: start(channel))
    else:
        pc.on("datachannel", start)
        if args.role == "offer":
            # An offer needs a data channel to carry an SCTP section at all; this one
            # only opens the way for the channel the other side will create.
            pc.createDataChannel("negotiation")

    if args.role == "offer":
        await pc.setLocalDescription(await pc.createOffer())
        emit({"type": "offer", "sdp": pc.localDescription.sdp})

    async def signalling():
        async for message in lines():
            if message["type"] in ("offer", "answer"):
                await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type=message["type"]))
                if message["type"] == "offer":
                    await pc.setLocalDescription(await pc.createAnswer())
                    emit({"type": "answer", "sdp": pc.localDescription.sdp})
            elif message["type"] == "candidate":
                if message.get("candidate"):
                    candidate = candidate_from_sdp(message["candidate"].removeprefix("candidate:"))
                    candidate.sdpMid = message.get("mid", "0")
                    await pc.addIceCandidate(candidate)
                # End-of-candidates needs no action: aiortc stops checking on its own.

    task = asyncio.ensure_future(signalling())
    emit(await done)
    # What we sent may still sit in our SCTP buffer: stay until the other side is done
    # with us (it closes our stdin, or kills us).
    await task
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
