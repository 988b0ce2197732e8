"""One applier class per inject kind: its name, its argument model and what it does.

Each class is registered once, by being listed in :data:`BUILTIN_INJECTS`, which the
``labctl.injects`` entry-point group publishes; the spec's vocabulary (validation,
``labctl schema``) and the engine (applying) both read that one registry, so another
package adds an inject kind by publishing its own classes in the same group.

Appliers work through the backend interface only (exec with argument lists, copy_to,
copy_from), are idempotent (a second application changes nothing and says so) and
return an :class:`InjectLog`. ``restarts``: a change is read by the host's program only
at start; such an applier uses only the copy pair and ``stat`` (no command), because
``labctl up`` runs it on created hosts before their first start; ``volatile``: the
change lives in the running host (processes, firewall) and would not survive a restart,
so the engine applies it after the restarts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final, Generic

from labctl.range import imagearchive, wiring
from labctl.range.yamledit import ConfigEditError, set_dotted
from labctl.scenario.context import FileMeta, InjectContext, InjectError, InjectLog
from labctl.scenario.render import render_text
from labctl.spec.builtin_vocabulary import (
    AddUser,
    Attach,
    ImageArchive,
    Port,
    RfConditions,
    Service,
    SetConfig,
    WriteFile,
)
from labctl.spec.vocabulary import ArgsT

RF_LINK_CONFIG: Final = wiring.RF_LINK_CONFIG
SSHD_PID: Final = "/run/sshd.pid"
SSHD_HOSTS: Final = frozenset({"ground-station"})


class Applier(Generic[ArgsT]):
    """An inject kind: ``name`` (what lab.yaml writes in ``kind:``), ``Args`` (its model,
    named again as the type argument: ``class SetConfigInject(Applier[SetConfig])``) and
    :meth:`apply`, which receives the validated model. ``summary`` defaults to the
    model's docstring, which is what ``labctl schema`` shows."""

    name: ClassVar[str]
    summary: ClassVar[str]
    #: Not a ClassVar: a class variable may not mention the type variable.
    Args: type[ArgsT]
    restarts: ClassVar[bool] = False
    volatile: ClassVar[bool] = False
    default_host: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "summary" not in cls.__dict__ and "Args" in cls.__dict__:
            cls.summary = (cls.Args.__doc__ or "").strip()

    def apply(self, ctx: InjectContext, host: str, args: ArgsT) -> InjectLog:
        raise NotImplementedError

    def apply_raw(self, ctx: InjectContext, host: str, args: Mapping[str, Any]) -> InjectLog:
        """Validate plain (rendered) arguments against ``Args``, then :meth:`apply`."""
        return self.apply(ctx, host, self.Args.model_validate(dict(args)))


# --- configuration files -------------------------------------------------------------------


def set_keys(ctx: InjectContext, host: str, file: str, values: Mapping[str, Any]) -> bool:
    """Set dotted keys in a host's YAML file, keeping its mode and owner; True if it changed."""
    meta = ctx.stat(host, file)
    if meta is None:
        raise InjectError(f"{file} does not exist on {host}")
    original = text = ctx.read(host, file).decode("utf-8")
    try:
        for key, value in values.items():
            text, _ = set_dotted(text, key, value)
    except ConfigEditError as exc:
        raise InjectError(f"{file}: {exc}") from None
    if text == original:
        return False
    ctx.write(host, file, text.encode("utf-8"), meta)
    return True


class SetConfigInject(Applier[SetConfig]):
    name = "set_config"
    Args = SetConfig
    restarts = True

    def apply(self, ctx: InjectContext, host: str, args: SetConfig) -> InjectLog:
        changed = set_keys(ctx, host, args.file, {args.key: args.value})
        summary = f"{args.file}: {args.key} = {ctx.shown(args.value)}"
        return InjectLog(self.name, host, summary, changed)


class RfConditionsInject(Applier[RfConditions]):
    name = "rf_conditions"
    Args = RfConditions
    restarts = True
    default_host = "rf-link"

    def apply(self, ctx: InjectContext, host: str, args: RfConditions) -> InjectLog:
        values = {
            "channel.loss": args.loss,
            "channel.bit_error_rate": args.bit_error_rate,
            "channel.delay_ms": args.delay_ms,
            "channel.jamming.uplink": args.jamming,
            "channel.jamming.downlink": args.jamming,
            "channel.passes.period": args.pass_every or 0,
            "channel.passes.duration": args.pass_length or 0,
        }
        if args.pass_every and not args.pass_length:
            raise InjectError("pass_every needs pass_length (how long each contact lasts)")
        changed = set_keys(ctx, host, RF_LINK_CONFIG, values)
        summary = ", ".join(f"{k.removeprefix('channel.')}={v}" for k, v in values.items())
        return InjectLog(self.name, host, f"{RF_LINK_CONFIG}: {summary}", changed)


class WriteFileInject(Applier[WriteFile]):
    name = "write_file"
    Args = WriteFile
    restarts = True

    def apply(self, ctx: InjectContext, host: str, args: WriteFile) -> InjectLog:
        content = _file_content(ctx, args).encode("utf-8")
        uid, gid = ctx.ids(host, args.owner)
        wanted = FileMeta(int(args.mode, 8), uid, gid)
        current = ctx.stat(host, args.path)
        changed = current != wanted or ctx.read(host, args.path) != content
        if changed:
            ctx.write(host, args.path, content, wanted)
        summary = f"{args.path} ({len(content)} octets, mode {args.mode}, owner {args.owner})"
        return InjectLog(self.name, host, summary, changed)


def _file_content(ctx: InjectContext, args: WriteFile) -> str:
    if args.template is None:
        return args.content or ""
    root = ctx.lab_dir.resolve()
    path = (root / args.template).resolve()
    if not path.is_relative_to(root):
        raise InjectError(f"template {args.template!r} is outside the lab folder")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InjectError(f"template {args.template!r} cannot be read: {exc}") from None
    return render_text(text, ctx.variables, name=args.template)


class ImageArchiveInject(Applier[ImageArchive]):
    name = "image_archive"
    Args = ImageArchive
    restarts = True

    def apply(self, ctx: InjectContext, host: str, args: ImageArchive) -> InjectLog:
        layers = [imagearchive.Layer(x.created_by, x.files, x.delete) for x in args.layers]
        try:
            content = imagearchive.build(args.name, layers, env=args.env, cmd=args.cmd)
        except imagearchive.ImageError as exc:
            raise InjectError(f"image {args.name}: {exc}") from None
        uid, gid = ctx.ids(host, args.owner)
        wanted = FileMeta(int(args.mode, 8), uid, gid)
        changed = ctx.stat(host, args.path) != wanted or ctx.read(host, args.path) != content
        if changed:
            ctx.write(host, args.path, content, wanted)
        summary = f"{args.path}: image {args.name}, {len(layers)} layer(s), {len(content)} octets"
        return InjectLog(self.name, host, summary, changed)


# --- accounts, services, firewall, networks ------------------------------------------------


class AddUserInject(Applier[AddUser]):
    name = "add_user"
    Args = AddUser

    def apply(self, ctx: InjectContext, host: str, args: AddUser) -> InjectLog:
        entry = ctx.run(host, ["getent", "passwd", args.user])
        done = []
        if entry.exit_code != 0:
            groups = ["-G", ",".join(args.groups)] if args.groups else []
            # A group of that name may exist already (Debian has "operator"): join it rather
            # than fail on useradd's "group exists" (its -U default).
            same = (
                ["-g", args.user]
                if ctx.run(host, ["getent", "group", args.user]).exit_code == 0
                else []
            )
            ctx.check(host, ["useradd", "-m", "-s", args.shell, *same, *groups, args.user])
            done.append("created")
        else:
            done += _align_account(ctx, host, args, entry.output.strip().split(":"))
        if args.password is not None and not _password_is(ctx, host, args.user, args.password):
            script = 'printf "%s:%s\\n" "$1" "$2" | chpasswd'
            ctx.check(host, ["sh", "-c", script, "chpasswd", args.user, args.password])
            done.append("password set")
        summary = f"user {args.user}: {', '.join(done) or 'as wanted'}"
        return InjectLog(self.name, host, summary, bool(done))


def _align_account(ctx: InjectContext, host: str, args: AddUser, entry: list[str]) -> list[str]:
    done = []
    if len(entry) >= 7 and entry[6] != args.shell:
        ctx.check(host, ["usermod", "-s", args.shell, args.user])
        done.append(f"shell {args.shell}")
    current = set(ctx.check(host, ["id", "-nG", args.user]).split())
    missing = [g for g in args.groups if g not in current]
    if missing:
        ctx.check(host, ["usermod", "-a", "-G", ",".join(missing), args.user])
        done.append(f"groups +{','.join(missing)}")
    return done


def _password_is(ctx: InjectContext, host: str, user: str, password: str) -> bool:
    """Whether ``user``'s password already is ``password`` (checked in the host)."""
    shadow = ctx.run(host, ["getent", "shadow", user]).output.strip().split(":")
    if len(shadow) < 2 or not shadow[1].startswith("$"):
        return False
    check = "import crypt, sys; sys.exit(crypt.crypt(sys.argv[1], sys.argv[2]) != sys.argv[2])"
    argv = ["python3", "-W", "ignore", "-c", check, password, shadow[1]]
    return ctx.run(host, argv).exit_code == 0


class ServiceInject(Applier[Service]):
    name = "service"
    Args = Service
    volatile = True

    def apply(self, ctx: InjectContext, host: str, args: Service) -> InjectLog:
        if args.service not in {"ssh", "sshd"} or ctx.roles.get(host) not in SSHD_HOSTS:
            raise InjectError(
                f"service {args.service!r} on {host} cannot be switched: only sshd on a "
                "ground-station host can (the other services are their container's own program)"
            )
        pid = _sshd_pid(ctx, host)
        changed = (pid is None) == args.enabled
        if changed and args.enabled:
            ctx.check(host, ["/usr/sbin/sshd", "-E", "/proc/1/fd/2"])
        elif changed and pid is not None:
            ctx.check(host, ["kill", pid])
        state = "running" if args.enabled else "stopped"
        return InjectLog(self.name, host, f"sshd {state}", changed)


def _sshd_pid(ctx: InjectContext, host: str) -> str | None:
    """The listening sshd's process id, or None when it is not running."""
    pid = ctx.run(host, ["cat", SSHD_PID]).output.strip()
    if not pid.isdigit():
        return None
    comm = ctx.run(host, ["cat", f"/proc/{pid}/comm"])
    return pid if comm.exit_code == 0 and comm.output.strip() == "sshd" else None


class PortInject(Applier[Port]):
    name = "port"
    Args = Port
    volatile = True

    def apply(self, ctx: InjectContext, host: str, args: Port) -> InjectLog:
        rule = ["INPUT", "-p", args.protocol, "--dport", str(args.port), "-j", "DROP"]
        present = _rule_present(ctx, host, rule)
        changed = present == args.open
        if changed:
            ctx.check(host, ["iptables", "-D" if args.open else "-I", *rule])
        state = "open" if args.open else "closed (DROP)"
        return InjectLog(self.name, host, f"{args.port}/{args.protocol} {state}", changed)


def _rule_present(ctx: InjectContext, host: str, rule: list[str]) -> bool:
    result = ctx.run(host, ["iptables", "-C", *rule])
    if result.exit_code not in (0, 1):
        last = (result.output.strip().splitlines() or [""])[-1]
        raise InjectError(f"iptables on {host} (it needs NET_ADMIN): {last}")
    return result.exit_code == 0


class NetworkInject(Applier[Attach]):
    name = "network"
    Args = Attach

    def apply(self, ctx: InjectContext, host: str, args: Attach) -> InjectLog:
        name = args.network.value
        backend, ident = ctx.backend, ctx.instance_id
        if args.attached:
            changed = backend.connect(ident, host, name)
        else:
            changed = backend.disconnect(ident, host, name)
        state = "attached to" if args.attached else "detached from"
        return InjectLog(self.name, host, f"{state} {name}", changed)


#: The built-in inject kinds, published as the ``labctl.injects`` entry point ``builtin``.
BUILTIN_INJECTS: Final[tuple[type[Applier[Any]], ...]] = (
    SetConfigInject,
    RfConditionsInject,
    WriteFileInject,
    ImageArchiveInject,
    AddUserInject,
    ServiceInject,
    PortInject,
    NetworkInject,
)
