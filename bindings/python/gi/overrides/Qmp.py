# Qmp.py: PyGObject overrides for libqmpthin (gi.repository.Qmp)
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Plain Python values in and out of QMP: commands take their arguments as
# a dict (or keyword arguments) and return what QEMU returned as dicts,
# lists, str, int, float, bool and None; event data reads as a dict; QEMU's
# errors are Qmp.QemuError, a GLib.Error that knows QEMU's class name.

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


def _object_from_python(arguments, keywords):
    """A Json.Object from a dict or a Json.Object, plus keyword arguments
    whose underscores become dashes (node_name= is "node-name")."""
    if isinstance(arguments, Json.Object):
        if not keywords:
            return arguments
        arguments = _node_to_python(Json.Node.alloc().init_object(arguments))
    if arguments is None and not keywords:
        return None
    if arguments is not None and not isinstance(arguments, dict):
        raise TypeError(f"QMP arguments must be a dict, not {type(arguments).__name__}")
    merged = dict(arguments or {})
    for key, value in keywords.items():
        merged[key.replace("_", "-")] = value
    return Json.from_string(json.dumps(merged)).get_object()


class QemuError(GLib.Error):
    """An error QEMU returned for a command: a GLib.Error in the
    Qmp.command_error_quark() domain whose code is a Qmp.CommandError
    value, plus class_name, QEMU's name of the error class
    ("GenericError", "CommandNotFound"...; None for a class this version of
    the library does not know). The message is QEMU's text."""

    def __init__(self, error):
        super().__init__(error.message, error.domain, error.code)
        self.class_name = Qmp.command_error_get_class_name(error)

    def __str__(self):
        if self.class_name:
            return f"{self.class_name}: {self.message}"
        return self.message


__all__.append("QemuError")


def _raise_typed(error):
    if error.domain == GLib.quark_to_string(Qmp.command_error_quark()):
        raise QemuError(error) from None
    raise error


class Client(Qmp.Client):
    def execute_sync(self, command, arguments=None, cancellable=None, **keywords):
        """Runs command with arguments (a dict, or keyword arguments with
        underscores for dashes) and returns QEMU's return value as Python
        values. Raises Qmp.QemuError for QEMU's errors, GLib.Error for
        the others."""
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
        error (a Qmp.QemuError for QEMU's errors)."""
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


def _typed_errors(method):
    def wrapper(*args, **keywords):
        try:
            return method(*args, **keywords)
        except GLib.Error as error:
            _raise_typed(error)
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


# The typed calls (query_status_sync, cont_finish...) raise Qmp.QemuError
# too.
for _name in dir(Qmp.Client):
    if _name.endswith(("_sync", "_finish")) and _name not in Client.__dict__:
        setattr(Client, _name, _typed_errors(getattr(Qmp.Client, _name)))
del _name

Client = override(Client)
__all__.append("Client")


class Event(Qmp.Event):
    @property
    def data(self):
        """The event's data as a dict (empty when QEMU sent none)."""
        return _node_to_python(Json.Node.alloc().init_object(self.get_data()))

    def __repr__(self):
        derived = ", derived" if self.get_derived() else ""
        return f"<Qmp.{type(self).__name__} {self.get_name()}{derived} {self.data}>"


Event = override(Event)
__all__.append("Event")
