/* test-vala.vala: libqmpthin from Vala, through qmpthin-1.0.vapi, against
 * a real QEMU.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

static string? find_qemu () {
    var name = Environment.get_variable ("QMP_TEST_QEMU") ?? "qemu-system-x86_64";
    return Environment.find_program_in_path (name);
}

/* The version QEMU states on its command line ("QEMU emulator version
 * 10.0.2 (Debian ...)"): the greeting must say the same. */
static string qemu_version (string qemu_path) {
    string output;
    int status;
    try {
        Process.spawn_sync (null, { qemu_path, "--version" }, null, SpawnFlags.STDERR_TO_DEV_NULL, null,
                            out output, null, out status);
        Process.check_wait_status (status);
    } catch (Error e) {
        error ("%s --version: %s", qemu_path, e.message);
    }
    MatchInfo match;
    if (!/^QEMU emulator version ([0-9]+\.[0-9]+\.[0-9]+)/.match (output, 0, out match))
        error ("%s --version: unexpected output: %s", qemu_path, output);
    return match.fetch (1);
}

static int main (string[] args) {
    var qemu_path = find_qemu ();
    if (qemu_path == null) {
        stderr.printf ("qemu-system-x86_64 is not installed\n");
        /* CI installs QEMU: missing there, it is a failure. */
        return Environment.get_variable ("CI") == "true" ? 1 : 77;
    }

    string dir;
    try {
        dir = DirUtils.make_tmp ("qmpthin-vala-XXXXXX");
    } catch (FileError e) {
        error ("%s", e.message);
    }
    var socket_path = Path.build_filename (dir, "qmp.sock");
    Subprocess qemu;
    try {
        qemu = new Subprocess.newv ({
            qemu_path, "-nodefaults", "-no-user-config", "-display", "none", "-machine", "none", "-S",
            "-chardev", "socket,id=qmp0,path=%s,server=on,wait=off".printf (socket_path),
            "-mon", "chardev=qmp0,mode=control"
        }, SubprocessFlags.NONE);
    } catch (Error e) {
        error ("%s", e.message);
    }

    int status = 0;
    try {
        var client = new Qmp.Client ("unix:" + socket_path);
        client.connect_timeout = 10000;
        /* QEMU opens its socket a moment after it starts: the client tries
         * again until the timeout. */
        while (!FileUtils.test (socket_path, FileTest.EXISTS))
            Thread.usleep (10000);
        client.connect_sync ();
        assert (client.state == Qmp.ClientState.READY);
        var version = qemu_version (qemu_path);
        assert (client.qemu_version == version);
        assert ("%u.%u.%u".printf (client.qemu_major, client.qemu_minor, client.qemu_micro) == version);
        assert (client.get_stop_reason ().kind == Qmp.StopKind.PRELAUNCH);

        var info = client.query_status_sync ();
        assert (info.status == Qmp.RunState.PRELAUNCH);
        assert (!info.running);

        /* Events as typed signals. */
        var names = new GenericArray<string> ();
        client.event.connect ((event) => { names.add (event.name); });
        client.cont_sync ();
        var loop = new MainLoop ();
        Timeout.add (20, () => {
            if (names.length > 0) {
                loop.quit ();
                return Source.REMOVE;
            }
            return Source.CONTINUE;
        });
        loop.run ();
        assert (names[0] == "RESUME");

        /* QEMU's errors as the error domain. */
        try {
            client.execute_sync ("no-such-command", null);
            assert_not_reached ();
        } catch (Qmp.CommandError e) {
            assert (e is Qmp.CommandError.COMMAND_NOT_FOUND);
            assert (e.message == "The command no-such-command has not been found");
        }

        var arguments = new Json.Object ();
        arguments.set_string_member ("path", "/machine");
        var children = client.execute_sync ("qom-list", arguments);
        assert (children.get_node_type () == Json.NodeType.ARRAY);

        client.close_sync ();
        assert (client.state == Qmp.ClientState.CLOSED);
        print ("Vala: QEMU %s, %u children of /machine\n", client.qemu_version, children.get_array ().get_length ());
    } catch (Error e) {
        stderr.printf ("test-vala: %s\n", e.message);
        status = 1;
    }

    qemu.force_exit ();
    try {
        qemu.wait ();
    } catch (Error e) {
    }
    FileUtils.unlink (socket_path);
    DirUtils.remove (dir);
    return status;
}
