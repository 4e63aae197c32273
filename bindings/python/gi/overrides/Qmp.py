# Qmp.py: PyGObject overrides for libqmpthin (gi.repository.Qmp)
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Plain Python values in and out of QMP: commands take their arguments as
# a dict (or keyword arguments) and return what QEMU returned as dicts,
# lists, str, int, float, bool and None; event data and the JSON of typed
# results read as dicts; failures raise exceptions a Python program knows
# how to catch (TimeoutError, ConnectionError...), QEMU's errors with
# QEMU's class name.

import builtins
import json

from gi.repository import GLib, Json

from ..module import get_introspection_module
from ..overrides import override

Qmp = get_introspection_module("Qmp")

__all__ = []


def _node_to_python(node):
    """A JsonNode (or None) as plain Python values."""
    if node is None:
        return None
    return json.loads(Json.to_string(node, False))


def _json_object_to_python(json_object):
    """A Json.Object (or None) as a dict."""
    if json_object is None:
        return None
    return _node_to_python(Json.Node.alloc().init_object(json_object))


def _object_from_python(arguments, keywords):
    """A Json.Object from a dict or a Json.Object, plus keyword arguments
    whose underscores become dashes (node_name= is "node-name")."""
    if isinstance(arguments, Json.Object):
        if not keywords:
            return arguments
        arguments = _json_object_to_python(arguments)
    if arguments is None and not keywords:
        return None
    if arguments is not None and not isinstance(arguments, dict):
        raise TypeError(f"QMP arguments must be a dict, not {type(arguments).__name__}")
    merged = dict(arguments or {})
    for key, value in keywords.items():
        merged[key.replace("_", "-")] = value
    return Json.from_string(json.dumps(merged)).get_object()


# ---------------------------------------------------------------------------
# Errors


class ClientError(GLib.Error):
    """Every failure of the library: a GLib.Error (domain, code and message
    as in C) of a class that says what happened. Catch Qmp.ClientError for
    all of them, or the Python exception each also is (TimeoutError,
    ConnectionError...). (Qmp.Error is the enumeration of the
    Qmp.error_quark() domain's codes, as in C.)"""

    def __init__(self, error):
        super().__init__(error.message, error.domain, error.code)

    def __repr__(self):
        return f"Qmp.{type(self).__name__}({self.message!r})"

    def __str__(self):
        return self.message


class QemuError(ClientError):
    """An error QEMU returned for a command, in the
    Qmp.command_error_quark() domain with a Qmp.CommandError code.
    class_name is QEMU's error class ("GenericError", "CommandNotFound"...,
    also for a class this version of the library does not know) and
    description QEMU's text."""

    def __init__(self, error):
        super().__init__(error)
        self.class_name = Qmp.command_error_get_class_name(error)
        suffix = f" (QEMU error class {self.class_name})"
        if error.code == Qmp.CommandError.UNKNOWN and self.message.endswith(suffix):
            self.description = self.message[:-len(suffix)]
        else:
            self.description = self.message

    def __repr__(self):
        return f"Qmp.QemuError({self.class_name!r}, {self.description!r})"

    def __str__(self):
        if self.class_name:
            return f"{self.class_name}: {self.description}"
        return self.description


class TimeoutError(ClientError, builtins.TimeoutError):
    """A command, or the connect, got no answer within its timeout."""


class ConnectionClosedError(ClientError, builtins.ConnectionError):
    """The connection ended with the call in flight: QEMU exited, the
    socket was reset, or the client was closed."""


class NotConnectedError(ClientError, builtins.ConnectionError):
    """The call was made while the client had no connection: before its
    first connect, while it (re)connects, or after it was closed."""


class ConnectionRefusedError(ClientError, builtins.ConnectionRefusedError):
    """Nothing listens on the socket: the QEMU that made it exited."""


class SocketNotFoundError(ClientError, builtins.FileNotFoundError):
    """There is no QMP socket at the address: QEMU is not running."""


class CancelledError(ClientError):
    """The call was cancelled with its Gio.Cancellable."""


class ProtocolError(ClientError):
    """The peer broke the protocol (no greeting, malformed JSON, a message
    too large...): the client closed the connection."""


_IO_ERRORS = {
    "TIMED_OUT": TimeoutError,
    "CLOSED": ConnectionClosedError,
    "CONNECTION_REFUSED": ConnectionRefusedError,
    "NOT_FOUND": SocketNotFoundError,
    "CANCELLED": CancelledError,
}

for _name in ("ClientError", "QemuError", "TimeoutError", "ConnectionClosedError", "NotConnectedError",
              "ConnectionRefusedError", "SocketNotFoundError", "CancelledError", "ProtocolError"):
    globals()[_name].__qualname__ = _name
    __all__.append(_name)
del _name


def error_from(error):
    """The exception of the library that stands for error, a GLib.Error
    of any domain (an error a signal passed, say); error itself when it is
    not one of the library's."""
    if isinstance(error, ClientError) or not isinstance(error, GLib.Error):
        return error
    if error.domain == GLib.quark_to_string(Qmp.command_error_quark()):
        return QemuError(error)
    if error.domain == GLib.quark_to_string(Qmp.error_quark()):
        if error.code == Qmp.Error.NOT_CONNECTED:
            return NotConnectedError(error)
        if error.code in (Qmp.Error.INVALID_GREETING, Qmp.Error.PROTOCOL, Qmp.Error.MESSAGE_TOO_LARGE,
                          Qmp.Error.NESTING_TOO_DEEP, Qmp.Error.NEGOTIATION_FAILED):
            return ProtocolError(error)
        return ClientError(error)
    if error.domain == "g-io-error-quark":
        from gi.repository import Gio

        for name, cls in _IO_ERRORS.items():
            if error.code == getattr(Gio.IOErrorEnum, name):
                return cls(error)
    return error


__all__.append("error_from")


def _raise_typed(error):
    raise error_from(error) from None


def _typed_errors(method):
    def wrapper(*args, **keywords):
        try:
            return method(*args, **keywords)
        except GLib.Error as error:
            _raise_typed(error)
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


def _typed_errors_everywhere(cls, base):
    """Every _sync and _finish method of base that cls does not define
    raises the library's exceptions."""
    for name in dir(base):
        if name.endswith(("_sync", "_finish")) and name not in cls.__dict__:
            setattr(cls, name, _typed_errors(getattr(base, name)))


# ---------------------------------------------------------------------------
# Client


class Client(Qmp.Client):
    def execute_sync(self, command, arguments=None, cancellable=None, **keywords):
        """Runs command with arguments (a dict, or keyword arguments with
        underscores for dashes) and returns QEMU's return value as Python
        values. Raises Qmp.QemuError for QEMU's errors, and the other
        Qmp.ClientError classes for the rest."""
        try:
            node = Qmp.Client.execute_sync(self, command, _object_from_python(arguments, keywords), cancellable)
        except GLib.Error as error:
            _raise_typed(error)
        return _node_to_python(node)

    def execute_full_sync(self, command, arguments, timeout_msec, cancellable=None):
        try:
            node = Qmp.Client.execute_full_sync(self, command, _object_from_python(arguments, {}),
                                                timeout_msec, cancellable)
        except GLib.Error as error:
            _raise_typed(error)
        return _node_to_python(node)

    def execute_async(self, command, arguments=None, cancellable=None, callback=None, *user_data):
        """Like Qmp.Client.execute_async(), with a dict for arguments;
        execute_finish() then returns Python values."""
        Qmp.Client.execute_async(self, command, _object_from_python(arguments, {}), cancellable,
                                 callback, *user_data)

    def execute_full_async(self, command, arguments, timeout_msec, cancellable=None, callback=None,
                           *user_data):
        Qmp.Client.execute_full_async(self, command, _object_from_python(arguments, {}), timeout_msec,
                                      cancellable, callback, *user_data)

    def execute_finish(self, result):
        try:
            node = Qmp.Client.execute_finish(self, result)
        except GLib.Error as error:
            _raise_typed(error)
        return _node_to_python(node)

    def execute_full_finish(self, result):
        return self.execute_finish(result)

    def execute(self, command, arguments=None, callback=None, cancellable=None, **keywords):
        """Runs command without blocking; calls callback(client, value,
        error) once with QEMU's return value as Python values, or with the
        error (a Qmp.ClientError)."""
        def done(client, result, _unused):
            try:
                value = client.execute_finish(result)
            except GLib.Error as error:
                if callback is not None:
                    callback(client, None, error)
                return
            if callback is not None:
                callback(client, value, None)

        Qmp.Client.execute_async(self, command, _object_from_python(arguments, keywords), cancellable,
                                 done, None)


# The typed calls (query_status_sync, cont_finish, connect_sync...) raise
# the library's exceptions too.
_typed_errors_everywhere(Client, Qmp.Client)

Client = override(Client)
__all__.append("Client")


# ---------------------------------------------------------------------------
# Values: JSON reads as dicts


class Event(Qmp.Event):
    @property
    def data(self):
        """The event's data as a dict (empty when QEMU sent none)."""
        return _json_object_to_python(Qmp.Event.get_data(self))

    def get_data(self):
        """The event's data as a dict (props.data is the Json.Object)."""
        return self.data

    def __repr__(self):
        derived = ", derived" if self.get_derived() else ""
        return f"<Qmp.{type(self).__name__} {self.get_name()}{derived} {self.data}>"


Event = override(Event)
__all__.append("Event")


class BlockIoErrorEvent(Qmp.BlockIoErrorEvent):
    def __repr__(self):
        names = [f"{key}={value!r}" for key, value in (("node", self.get_node_name()),
                                                        ("device", self.get_device()),
                                                        ("qom_path", self.get_qom_path()))
                 if value]
        derived = ", derived" if self.get_derived() else ""
        return (f"<Qmp.BlockIoErrorEvent {' '.join(names)} {self.get_operation_string()}"
                f" {self.get_action_string()} nospace={self.get_nospace()} {self.get_reason()!r}{derived}>")


BlockIoErrorEvent = override(BlockIoErrorEvent)
__all__.append("BlockIoErrorEvent")


def _with_json_as_dict(base):
    """A subclass of base whose get_json() returns a dict, as does its
    json attribute (props.json stays what GObject gives)."""
    class Wrapped(base):
        @property
        def json(self):
            """QEMU's JSON of this result as a dict."""
            return _json_object_to_python(base.get_json(self))

        def get_json(self):
            return self.json

    Wrapped.__name__ = Wrapped.__qualname__ = base.__name__
    return Wrapped


class BlockInfo(_with_json_as_dict(Qmp.BlockInfo)):
    def __repr__(self):
        return (f"<Qmp.BlockInfo node={self.get_node_name()!r} device={self.get_device()!r}"
                f" qdev={self.get_qdev()!r} io-status={self.get_io_status_string()!r}>")


BlockInfo = override(BlockInfo)
__all__.append("BlockInfo")

for _name in ("BlockStats", "BlockNode", "StatusInfo"):
    globals()[_name] = override(_with_json_as_dict(getattr(Qmp, _name)))
    __all__.append(_name)
del _name


class StopReason(Qmp.StopReason):
    @property
    def disks(self):
        """The disks involved, a list of Qmp.BlockInfo (node, block
        backend, QOM path as qdev)."""
        return list(self.get_disks())

    def __repr__(self):
        nodes = ", ".join(self.get_node_names())
        derived = ", derived" if self.get_derived() else ""
        return (f"<Qmp.StopReason {self.get_kind().value_nick}"
                f" ({self.get_run_state_string()}){' on ' + nodes if nodes else ''}{derived}>")


StopReason = override(StopReason)
__all__.append("StopReason")


class ThinMonitor(Qmp.ThinMonitor):
    pass


_typed_errors_everywhere(ThinMonitor, Qmp.ThinMonitor)
ThinMonitor = override(ThinMonitor)
__all__.append("ThinMonitor")
