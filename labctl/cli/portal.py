"""``labctl serve`` (the class portal) and ``labctl portal add-instructor``.

Register in ``labctl.cli.app`` with ``app.command()(portal.serve)`` and
``app.add_typer(portal.app, name="portal")``.
"""

from __future__ import annotations

import asyncio
import getpass
import secrets
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from labctl.cli.context import Environment, environment
from labctl.errors import InputError

if TYPE_CHECKING:
    from labctl.portal.access import StudentTarget
    from labctl.portal.portal import Portal

app = typer.Typer(help="The class portal's accounts.", no_args_is_help=True)
DEFAULT_PORT = 8443


def _portal(env: Environment, sessions: list[str]) -> tuple[Portal, Path]:
    from labctl.portal.portal import Portal
    from labctl.portal.server import cookie_secret, portal_dir

    folder = portal_dir(env.core.store.path)
    return Portal(
        env.core, sessions, grades_dir=folder / "grades", secret=cookie_secret(folder)
    ), folder


def serve(
    ctx: typer.Context,
    *,
    session: Annotated[
        list[str] | None,
        typer.Option(
            "--session", "-s", help="A class session to serve (repeat for more; default: all)."
        ),
    ] = None,
    bind: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    tls_cert: Annotated[Path | None, typer.Option(help="Your certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Its private key (PEM).")] = None,
    insecure_http: Annotated[
        bool, typer.Option("--insecure-http", help="Serve plain HTTP (a test network only).")
    ] = False,
    quiz_attempts: Annotated[
        int, typer.Option(min=1, max=20, help="Attempts each student has at the quiz.")
    ] = 1,
    ssh_port: Annotated[
        int,
        typer.Option(
            min=0, max=65535, help="The class's SSH entry point (ssh -p PORT id@host); 0: none."
        ),
    ] = 2222,
    observe_every: Annotated[
        int,
        typer.Option(
            min=0,
            max=3600,
            help="Seconds between two passive observations of every instance for the board"
            " (reads ground truth only, sends nothing); 0: none.",
        ),
    ] = 60,
    gc_every: Annotated[
        int,
        typer.Option(
            min=0,
            max=3600,
            help="Seconds between two runs of the lease keeper (labctl gc: lifetimes, idle"
            " stops, the queue); 0: none (run labctl gc yourself).",
        ),
    ] = 60,
) -> None:
    """Run the class portal: students log in with their roster id and handout password
    (their lab, a terminal, mission control, self-check, report, quiz, score); instructors
    see the class board. Ctrl-C stops it."""
    import uvicorn

    from labctl.portal.app import create_app
    from labctl.portal.proxy import mission_control_router
    from labctl.portal.server import host_names, tls_files
    from labctl.portal.terminal import terminal_router

    env = environment(ctx)
    known = [s.name for s in env.core.sessions.all()]
    chosen = session or known
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise InputError(
            f"no session {unknown[0]!r}; the sessions: {', '.join(known) or 'none'}"
            " (start one with labctl session start)"
        )
    for what, number in (("--port", port), ("--ssh-port", ssh_port)):
        if number:
            _check_free(what, bind, number)
    if not chosen:
        env.err.print("[yellow]no session to serve yet: start one with labctl session start[/]")
    portal, folder = _portal(env, chosen)
    portal.quiz_attempts = quiz_attempts
    made = portal.sync_accounts()
    if not portal.store.instructors():
        password = secrets.token_urlsafe(12)
        portal.add_instructor("instructor", password)
        env.out.print(
            f"instructor login: [bold]instructor[/], password [bold]{escape(password)}[/]"
            " (shown once; add your own with labctl portal add-instructor)"
        )
    scheme = "http" if insecure_http else "https"
    tls = None
    if not insecure_http:
        tls = tls_files(folder, tls_cert, tls_key, host_names(bind))
        what = "made a self-signed certificate" if tls.made else f"certificate {tls.cert}"
        # emoji=False: a fingerprint holds ":AB:"-like runs Rich would turn into emoji
        env.out.print(f"TLS: {escape(what)}, SHA-256 fingerprint {tls.fingerprint}", emoji=False)
    shown = host_names(bind)[2] if bind in {"0.0.0.0", "::"} else bind
    env.out.print(
        f"serving {len(chosen)} session(s) ({escape(', '.join(chosen) or 'none')}),"
        f" {made} student login(s) made or refreshed"
    )
    if ssh_port:
        env.out.print(
            f"SSH entry point: ssh -p {ssh_port} STUDENT-ID@{escape(shown)} (the handout password)"
        )
    env.out.print(f"open [bold]{scheme}://{escape(shown)}:{port}/[/] (Ctrl-C stops)")
    application = create_app(
        portal,
        secure_cookies=not insecure_http,
        extra_routers=(terminal_router, mission_control_router),
    )
    config = uvicorn.Config(
        application,
        host=bind,
        port=port,
        ssl_certfile=str(tls.cert) if tls else None,
        ssl_keyfile=str(tls.key) if tls else None,
        log_level="warning",
        proxy_headers=False,
        ws_max_size=64 * 1024,
        timeout_graceful_shutdown=5,
    )
    if observe_every:
        portal.start_observing(observe_every)
    if gc_every:
        portal.start_collecting(gc_every)
    try:
        asyncio.run(_run(uvicorn.Server(config), portal, bind, ssh_port, folder))
    finally:
        portal.stop()


def _check_free(option: str, bind: str, port: int) -> None:
    """A one-line error now, rather than the web server's log line once it is started."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bind, port))
        except OSError as exc:
            raise InputError(
                f"{option} {port}: cannot listen on {bind} ({exc.strerror or exc});"
                f" choose another {option} or stop what uses it"
            ) from None


async def _run(server: Any, portal: Portal, bind: str, ssh_port: int, folder: Path) -> None:
    """The web server and, with ``ssh_port``, the SSH entry point, in one event loop."""
    from starlette.concurrency import run_in_threadpool

    from labctl.portal.sshgate import start_gate

    gate = None
    if ssh_port:

        async def authenticate(login: str, password: str) -> StudentTarget | None:
            return await run_in_threadpool(portal.ssh_target, login, password)

        async def by_key(login: str, key: Any) -> StudentTarget | None:
            return await run_in_threadpool(portal.ssh_target_by_key, login, key)

        try:
            gate = await start_gate(
                bind,
                ssh_port,
                authenticate,
                folder,
                by_key=by_key,
                activity=portal.terminal_activity,
            )
        except OSError as exc:
            raise InputError(f"--ssh-port {ssh_port}: {exc.strerror or exc}") from None
    try:
        await server.serve()
    finally:
        if gate is not None:
            gate.close()


@app.command("add-instructor")
def add_instructor(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The instructor's login.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add (or change the password of) an instructor account of the portal."""
    env = environment(ctx)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {login}: ")
        if getpass.getpass("again: ") != password:
            raise InputError("the two passwords differ: run it again")
    portal, _ = _portal(env, [])
    from labctl.portal.portal import PortalError

    try:
        portal.add_instructor(login, password)
    except PortalError as exc:
        raise InputError(str(exc)) from None
    env.out.print(f"instructor {escape(login)} can log into the portal")
