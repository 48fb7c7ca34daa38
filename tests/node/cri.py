"""A minimal client of the Kubernetes Container Runtime Interface (runtime.v1) over containerd's unix socket.

The node's cleanup removes pod sandboxes through the CRI, as kubelet would, so that containerd runs the CNI DEL
that releases each pod's address, veth and NAT rules. It needs four calls (Version, ListPodSandbox,
StopPodSandbox, RemovePodSandbox), so instead of generated gRPC stubs this speaks gRPC directly over HTTP/2 (the
`h2` package) and encodes the few protobuf fields by hand, after cri-api's pkg/apis/runtime/v1/api.proto.
"""

from __future__ import annotations

import socket
import time

import h2.config
import h2.connection
import h2.events

SERVICE = "/runtime.v1.RuntimeService/"


class CRIError(RuntimeError):
    """A CRI call failed: the socket did not answer, or the runtime returned a non-zero gRPC status."""


# ----- protobuf, only what these messages use: varints and length-delimited fields -----


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string_field(number: int, value: str) -> bytes:
    data = value.encode()
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _fields(message: bytes) -> list[tuple[int, int | bytes]]:
    """Decode one protobuf message into (field number, value) pairs; length-delimited values stay bytes."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0

    def read_varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            byte = message[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    while pos < len(message):
        key = read_varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, read_varint()))
        elif wire == 2:
            size = read_varint()
            out.append((number, message[pos : pos + size]))
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise CRIError(f"unsupported protobuf wire type {wire}")
    return out


# ----- gRPC over HTTP/2 on a unix socket -----


def call(socket_path: str, method: str, request: bytes, timeout: float = 30.0) -> bytes:
    """One unary gRPC call of runtime.v1.RuntimeService; returns the response message bytes."""
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    deadline = time.monotonic() + timeout
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(socket_path)
    except OSError as err:
        raise CRIError(f"CRI {method}: cannot connect to {socket_path}: {err}") from err
    with sock:
        conn.initiate_connection()
        stream = conn.get_next_available_stream_id()
        conn.send_headers(
            stream,
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":path", SERVICE + method),
                (":authority", "localhost"),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                ("grpc-timeout", f"{max(1, int(timeout))}S"),
            ],
        )
        conn.send_data(stream, b"\x00" + len(request).to_bytes(4, "big") + request, end_stream=True)
        body = bytearray()
        status: dict[str, str] = {}
        ended = False
        try:
            sock.sendall(conn.data_to_send())
            while not ended:
                if time.monotonic() > deadline:
                    raise CRIError(f"CRI {method}: no answer within {timeout:.0f}s")
                data = sock.recv(65536)
                if not data:
                    raise CRIError(f"CRI {method}: the runtime closed the connection")
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.DataReceived):
                        body += event.data
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                        status.update({str(k): str(v) for k, v in event.headers})
                    elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                        ended = True
                sock.sendall(conn.data_to_send())
        except OSError as err:
            raise CRIError(f"CRI {method}: {err}") from err
    code = status.get("grpc-status", "")
    if code != "0":
        raise CRIError(f"CRI {method}: grpc-status {code or 'missing'}: {status.get('grpc-message', '')}")
    if len(body) < 5:
        return b""
    size = int.from_bytes(body[1:5], "big")
    return bytes(body[5 : 5 + size])


class RuntimeClient:
    """The CRI calls the node's cleanup uses, against one runtime socket."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def version(self) -> str:
        """`<runtime name> <runtime version>` (VersionResponse fields 2 and 3)."""
        fields = dict(_fields(call(self.socket_path, "Version", b"", timeout=5)))
        name, version = fields.get(2, b""), fields.get(3, b"")
        assert isinstance(name, bytes)
        assert isinstance(version, bytes)
        return f"{name.decode()} {version.decode()}"

    def pod_sandboxes(self) -> list[str]:
        """The id of every pod sandbox the runtime knows (ListPodSandboxResponse.items[].id)."""
        ids = []
        for number, item in _fields(call(self.socket_path, "ListPodSandbox", b"")):
            if number == 1 and isinstance(item, bytes):
                for sub_number, value in _fields(item):
                    if sub_number == 1 and isinstance(value, bytes):
                        ids.append(value.decode())
        return ids

    def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """Stop every container of the sandbox and tear down its network (CNI DEL)."""
        call(self.socket_path, "StopPodSandbox", _string_field(1, sandbox_id), timeout=60)

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        """Remove the sandbox and its containers."""
        call(self.socket_path, "RemovePodSandbox", _string_field(1, sandbox_id), timeout=60)
