#!/usr/bin/python3
# test_constants.py: every constant of the public headers reaches Python
# through the typelib with its C value and a type that holds it.
#
# The constants are read from the installed headers' #defines, their C
# values printed by a program compiled against the uninstalled library,
# and both compared with what gi.repository.Qmp says.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import subprocess
import sys
import tempfile
import unittest

import gi

gi.require_version("GIRepository", "2.0")
gi.require_version("Qmp", "1.0")
from gi.repository import GIRepository, Qmp  # noqa: E402

HEADERS = os.environ["QMP_TEST_HEADERS"]

# Macros that are no constants: types, checks, and expressions GObject
# introspection has no constant for (error quarks are functions there).
NOT_CONSTANTS = re.compile(r"^QMP_(TYPE_|IS_|.*_CLASS$|.*_GET_CLASS$|AVAILABLE_|DEPRECATED|UNAVAILABLE|"
                           r"ERROR$|COMMAND_ERROR$|CHECK_VERSION|VERSION_CUR_STABLE|VERSION_PREV_STABLE|"
                           r"VERSION_MIN_REQUIRED|VERSION_MAX_ALLOWED|VERSION_1_0$|ENCODE_VERSION)")


def header_constants():
    """Object-like #defines of the public headers: name -> text."""
    found = {}
    for directory in HEADERS.split(os.pathsep):
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".h"):
                continue
            with open(os.path.join(directory, name)) as f:
                for match in re.finditer(r"^#define (QMP_[A-Z0-9_]+)[ \t]+(\S.*)$", f.read(), re.M):
                    macro = match.group(1)
                    if not NOT_CONSTANTS.match(macro):
                        found[macro] = match.group(2)
    return found


def c_values(names):
    """What C says each constant is, printed by a compiled program."""
    lines = ["#include <stdio.h>", "#include <qmpthin/qmpthin.h>",
             "#define SHOW(name) _Generic ((name), \\",
             "  char *: show_string, const char *: show_string, \\",
             "  default: show_number) (#name, (name))",
             "static void show_string (const char *n, const char *v) { printf (\"%s s %s\\n\", n, v); }",
             "static void show_number (const char *n, long double v) { printf (\"%s n %.0Lf\\n\", n, v); }",
             "int main (void) {"]
    lines += [f"  SHOW ({name});" for name in names]
    lines += ["  return 0;", "}"]
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "qmpthin-1.0"], check=True,
                           capture_output=True, text=True).stdout.split()
    with tempfile.TemporaryDirectory() as directory:
        source = os.path.join(directory, "constants.c")
        program = os.path.join(directory, "constants")
        with open(source, "w") as f:
            f.write("\n".join(lines) + "\n")
        sanitize = os.environ.get("QMP_TEST_SANITIZE_FLAGS", "").split()
        subprocess.run([os.environ.get("CC", "cc"), "-Wall", "-Werror", *sanitize, source, "-o", program,
                        *flags], check=True)
        out = subprocess.run([program], check=True, capture_output=True, text=True).stdout
    values = {}
    for line in out.splitlines():
        name, kind, value = line.split(" ", 2)
        values[name] = int(value) if kind == "n" else value
    return values


class ConstantsTest(unittest.TestCase):
    def test_every_constant(self):
        macros = header_constants()
        # The numbers the thin-provisioning API is about must be there.
        for needed in ("QMP_AMOUNT_EXCEEDED_UNKNOWN", "QMP_THIN_DEFAULT_CHUNK_SIZE",
                       "QMP_THIN_DEFAULT_FREE_PERCENT", "QMP_TIMEOUT_DEFAULT", "QMP_TIMEOUT_NONE"):
            self.assertIn(needed, macros)
        values = c_values(sorted(macros))
        for macro in sorted(macros):
            with self.subTest(constant=macro):
                name = macro[len("QMP_"):]
                self.assertTrue(hasattr(Qmp, name), f"Qmp.{name} is missing from the typelib")
                self.assertEqual(getattr(Qmp, name), values[macro])

    def test_typelib_has_nothing_else(self):
        """Every constant of the typelib is one of the headers', with the
        C value: nothing stale or renamed."""
        repository = GIRepository.Repository.get_default()
        macros = header_constants()
        values = c_values(sorted(macros))
        for i in range(repository.get_n_infos("Qmp")):
            info = repository.get_info("Qmp", i)
            if info.get_type() != GIRepository.InfoType.CONSTANT:
                continue
            macro = "QMP_" + info.get_name()
            with self.subTest(constant=macro):
                self.assertIn(macro, values)
                self.assertEqual(getattr(Qmp, info.get_name()), values[macro])

    def test_unsigned_64_bit(self):
        # Typed guint64 in the typelib: not wrapped to a negative gint.
        self.assertEqual(Qmp.THIN_DEFAULT_CHUNK_SIZE, 2560 * 1024 * 1024)
        self.assertEqual(Qmp.AMOUNT_EXCEEDED_UNKNOWN, 2 ** 64 - 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
