"""Two aiortc peers in one process on loopback: one data channel, --megabytes in
--size messages. Prints {"MBps": …, "bytes": …, "seconds": …}: the reference that
`fugitive-bench rtc` compares FugitiveRTC with."""

import argparse
import asyncio
import json
import time

import aioice.ice

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

from aiortc import RTCConfiguration, RTCPeerConnection  # noqa: E402


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=20)
    parser.add_argument("--size", type=int, default=16 * 1024)
    args = parser.parse_args()
    total = args.megabytes * 1_000_000

    a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = a.createDataChannel("bulk")
    done = asyncio.get_running_loop().create_future()
    received = 0

    @b.on("datachannel")
    def on_channel(remote):
        @remote.on("message")
        def on_message(message):
            nonlocal received
            received += len(message)
            if received >= total and not done.done():
                done.set_result(time.perf_counter())

    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    opened = asyncio.Event()
    channel.on("open", opened.set)
    await opened.wait()

    payload = bytes(args.size)
    low = asyncio.Event()
    channel.bufferedAmountLowThreshold = 1 << 20
    channel.on("bufferedamountlow", low.set)
    start = time.perf_counter()
    sent = 0
    while sent < total:
        count = min(args.size, total - sent)
        channel.send(payload[:count])
        sent += count
        if channel.bufferedAmount > 4 << 20:
            low.clear()
            await low.wait()
    end = await done
    print(json.dumps({"MBps": total / 1e6 / (end - start), "bytes": total, "seconds": end - start}))
    await a.close()
    await b.close()


if __name__ == "__main__":
    asyncio.run(main())
