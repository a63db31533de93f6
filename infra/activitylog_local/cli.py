"""``activitylog``: run the service locally and talk to it.

    activitylog serve [--port 3000] [--in-memory] [--no-seed]   the whole stack (``make dev``)
    activitylog seed [--org ORG] [--count N] [--days D]          demo entries, with a progress bar
    activitylog query [--type T] [--status S] [--user U] [--entity E] [--from today|7d] [--all] [--id ID] [--related ID]
    activitylog tail [--org ORG] [--type T] [--status S] [--user U] [--entity E] [--json]   follow new entries, as the page does
    activitylog run <function> [--event JSON]                    invoke a function now (--event unless scheduled)
    activitylog archive query --org ORG --from 7d --reason R [--type T] …   the S3 archive with DuckDB, expired entries too
    activitylog verify --org ORG --from 7d [--to …]              check the archive against its signed digests
    activitylog prove ID --org ORG --reason R [--out FILE]       one entry's proof bundle, checkable offline
    activitylog token --org ORG --user USER [--name N] [--scope read|write|support|admin|retry]
    activitylog secrets set --org ORG --provider NAME --value SECRET    a webhook signing secret (stripe, square, fedex, …)
    activitylog secrets set --org ORG --provider NAME --api-key --value KEY   the org's key for the provider's API (missed webhooks)
    activitylog redrive [--queue Q]                              dead-lettered messages back to their queue

Every command but ``serve`` and ``token`` talks to a running ``serve`` over HTTP, with a
token minted from the local dev key, exactly like any other client.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import sys
import threading
import time
import unicodedata
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from samlocal.dynamodb import ROOT, SetupError

DEFAULT_PORT = 3000
DEFAULT_DATA = ROOT / ".local"
STATE_FILE = "stack.json"  # where a running `serve` says its URL, issuer and audience


def main(argv: Optional[list[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except SetupError as error:
        print(f"activitylog: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # noqa: BLE001 - one clear line for the known failures below
        from samlocal.auth import AuthError  # noqa: F401
        from activitylog_local.client import StackNotRunning
        from activitylog_local.demo import SeedError

        if isinstance(error, (StackNotRunning, SeedError, ValueError)):
            print(f"activitylog: {error}", file=sys.stderr)
            return 1
        raise


def _parser() -> argparse.ArgumentParser:
    from activitylog.webhooks.providers import PROVIDERS

    parser = argparse.ArgumentParser(prog="activitylog", description="The activity log service on this machine.")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("ACTIVITYLOG_LOCAL_DIR", DEFAULT_DATA)),
                        help="git-ignored folder for DynamoDB Local's file, the dev key, the outbox (default .local)")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="start the whole stack (make dev)")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", DEFAULT_PORT)), help="HTTP port (default 3000; 0: any free port)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--dynamodb-port", type=int, default=None, help="DynamoDB Local's port (default: a free one)")
    serve.add_argument("--in-memory", action="store_true", help="DynamoDB Local in memory: nothing kept after Ctrl-C")
    serve.add_argument("--no-seed", action="store_true", help="do not seed the demo organization")
    serve.add_argument("--seed-count", type=int, default=3000)
    serve.add_argument("--seed-days", type=int, default=30, help="through the API; at most HotTableDays - 1")
    serve.add_argument("--seed-history", type=int, default=None, help="older entries over two years, in the warm tier (1500)")
    serve.add_argument("--template", type=Path, default=None, help="another SAM template (tests use small fixtures)")
    serve.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE", help="override a template parameter")
    serve.add_argument("--poll-seconds", type=float, default=0.5, help="how often queue and stream sources poll")
    serve.add_argument("--ttl-sweep-seconds", type=float, default=30.0,
                       help="how often expired entries are deleted, as DynamoDB's Time to Live does within days (default 30)")
    serve.add_argument("--allow-loopback-streams", action="store_true",
                       help="streams may deliver to http://127.0.0.1 receivers (tests, demos); refused otherwise, and always in AWS")
    serve.add_argument("--verbose", action="store_true", help="log every request and event source")
    serve.set_defaults(handler=cmd_serve)

    seed = commands.add_parser("seed", help="record demo entries through the running API")
    seed.add_argument("--org", default="org_demo")
    seed.add_argument("--count", type=int, default=3000)
    seed.add_argument("--days", type=int, default=30)
    seed.add_argument("--url", default=None)
    seed.set_defaults(handler=cmd_seed)

    query = commands.add_parser("query", help="list entries like the dashboard's table")
    query.add_argument("--org", default="org_demo")
    query.add_argument("--type", action="append", default=[], help="USER_ACTION, BACKGROUND_JOB, WEBHOOK, SYSTEM_EVENT (repeat or comma-separate)")
    query.add_argument("--status", action="append", default=[], help="SUCCESS, IN_PROGRESS, WARNING, FAILED (repeat or comma-separate)")
    query.add_argument("--user", help="a team member's id, e.g. u_17")
    query.add_argument("--entity", dest="entity_type", help="entity type: contact, release, product, …")
    query.add_argument("--entity-id", help="one record's history (with --entity)")
    query.add_argument("--correlation-id", help="one chain: a user action, its jobs, their webhooks and retries")
    query.add_argument("--trace-id", help="one W3C trace (32 lowercase hex): the entries written under it")
    query.add_argument("--from", dest="date_from", help="today, yesterday, 30m, 24h, 7d or ISO 8601 (default: the API's last 24 h)")
    query.add_argument("--to", dest="date_to", help="like --from (or now)")
    query.add_argument("--limit", type=int, default=50, help="page size")
    query.add_argument("--all", action="store_true", help="follow the cursor through every page")
    query.add_argument("--id", help="show one entry in full (the detail panel)")
    query.add_argument("--related", metavar="ID", help="the chain an entry belongs to, oldest first (GET /activities/{id}/related)")
    query.add_argument("--json", action="store_true", help="print the API's JSON")
    query.add_argument("--url", default=None)
    query.set_defaults(handler=cmd_query)

    tail = commands.add_parser("tail", help="follow new entries as they are recorded (the page's live filters and order)")
    tail.add_argument("--org", default="org_demo")
    tail.add_argument("--type", action="append", default=[], help="as query's --type")
    tail.add_argument("--status", action="append", default=[], help="as query's --status")
    tail.add_argument("--user", help="a team member's id, e.g. u_17")
    tail.add_argument("--entity", dest="entity_type", help="entity type: contact, release, product, …")
    tail.add_argument("--entity-id", help="one record's history (with --entity)")
    tail.add_argument("--json", action="store_true", help="one JSON object per entry")
    tail.add_argument("--interval", type=float, default=2.0)
    tail.add_argument("--url", default=None)
    tail.set_defaults(handler=cmd_tail)

    run = commands.add_parser("run", help="invoke a function now (a scheduled one gets its schedule's event)")
    run.add_argument("function", help="the function's logical id in template.yaml")
    run.add_argument("--event", help="the event as JSON (default: the schedule's event, or {})")
    run.add_argument("--url", default=None)
    run.set_defaults(handler=cmd_run)

    archive = commands.add_parser("archive", help="the S3 archive: every version of every entry, expired ones too")
    archive_commands = archive.add_subparsers(dest="archive_command")
    archive.set_defaults(handler=lambda _: archive.print_help() or 2)
    archive_query = archive_commands.add_parser("query", help="an org's entries in the archive with DuckDB, filtered like GET /activities")
    _archive_arguments(archive_query)
    archive_query.add_argument("--type", action="append", default=[], help="USER_ACTION, BACKGROUND_JOB, WEBHOOK, SYSTEM_EVENT (repeat or comma-separate)")
    archive_query.add_argument("--status", action="append", default=[], help="SUCCESS, IN_PROGRESS, WARNING, FAILED (repeat or comma-separate)")
    archive_query.add_argument("--user", help="a team member's id, e.g. u_17")
    archive_query.add_argument("--entity", dest="entity_type", help="entity type: contact, release, product, …")
    archive_query.add_argument("--entity-id", help="one record's history (with --entity)")
    archive_query.add_argument("--limit", type=int, default=None, help="at most this many entries (default: all)")
    archive_query.add_argument("--json", action="store_true", help="one JSON object per entry")
    archive_query.add_argument("--pending", action="store_true",
                               help="also versions no signed digest covers yet (by default only what a digest signed)")
    archive_query.add_argument("--digest-bucket", help="the digest bucket in AWS (with --archive-bucket)")
    archive_query.add_argument("--warm-bucket", help="the warm bucket in AWS (with --archive-bucket): compacted days are read from it")
    archive_query.add_argument("--raw", action="store_true",
                               help="read every day from the raw archive, each version checked against its signed digest (slower)")
    _pin_arguments(archive_query)
    _support_arguments(archive_query)
    archive_query.set_defaults(handler=cmd_archive_query)

    verify = commands.add_parser("verify", help="check the archive against its signed digests: altered, inserted, missing records, chain breaks")
    _archive_arguments(verify)
    verify.add_argument("--digest-bucket", help="the digest bucket in AWS (with --archive-bucket)")
    verify.add_argument("--json", action="store_true", help="the report as JSON")
    _pin_arguments(verify)
    verify.set_defaults(handler=cmd_verify)

    prove = commands.add_parser("prove", help="one entry's proof: its archived versions, their Merkle paths, the signed checkpoint")
    prove.add_argument("id", help="the entry's id")
    prove.add_argument("--org", required=True)
    prove.add_argument("--archive-bucket", help="an archive bucket in AWS (your credentials); default: the local stack's")
    prove.add_argument("--digest-bucket", help="the digest bucket in AWS (with --archive-bucket)")
    prove.add_argument("--out", type=Path, help="write the bundle here (default: standard output)")
    _pin_arguments(prove)
    _support_arguments(prove)
    prove.set_defaults(handler=cmd_prove)

    secrets = commands.add_parser("secrets", help="webhook signing secrets in the running stack's SSM Parameter Store")
    secret_commands = secrets.add_subparsers(dest="secrets_command", required=True)
    set_secret = secret_commands.add_parser("set", help="set an org's signing secret for a provider")
    set_secret.add_argument("--org", required=True)
    set_secret.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
    set_secret.add_argument("--value", required=True, help="what the provider's dashboard shows (Stripe's whsec_…, Square's signature key, FedEx's security token)")
    set_secret.add_argument("--api-key", action="store_true",
                            help="the org's key for the provider's API instead (Stripe: a restricted key reading events; Square: "
                                 "an access token), read only by the recovery function")
    set_secret.add_argument("--url", default=None)
    set_secret.set_defaults(handler=cmd_secrets_set)

    redrive = commands.add_parser("redrive", help="move dead-lettered messages back to the queue they came from")
    redrive.add_argument("--queue", help="one dead-letter queue, e.g. WebhookDeadLetters (default: every one)")
    redrive.add_argument("--url", default=None)
    redrive.set_defaults(handler=cmd_redrive)

    token = commands.add_parser("token", help="print a dev JWT for any org and user")
    token.add_argument("--org", required=True)
    token.add_argument("--user", required=True)
    token.add_argument("--name")
    token.add_argument("--email", help="the email claim: where a large export mails its link")
    token.add_argument("--scope", action="append", default=[], help="read, write, support, admin or retry (repeat or comma-separate; default read)")
    token.add_argument("--ttl", default="12h", help="lifetime: 30m, 12h, 7d")
    token.set_defaults(handler=cmd_token)
    return parser


def _pin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--signing-key", action="append", default=[],
                        help="a digest signing key to trust (KMS key id or ARN; repeat for each key it replaced)")
    parser.add_argument("--public-key", action="append", default=[], type=Path,
                        help="a digest signing public key to trust (PEM file; repeat); default on this machine: .local/kms/*.pem")


def _support_arguments(parser: argparse.ArgumentParser) -> None:
    """What a command that reads an org's entries needs to record the read in that org's log first."""
    parser.add_argument("--reason", required=True,
                        help="why you read this org's entries (a ticket, a case): recorded in its log before anything is read")
    parser.add_argument("--api", help="the API's URL, to record the read (AWS; with --token); default: the running local stack")
    parser.add_argument("--token", help="a support token (activity:support) of --org, with --api; locally one is minted")
    parser.add_argument("--support-user", default="u_support", help="the support user a locally minted token names (default u_support)")


def _archive_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", required=True)
    parser.add_argument("--from", dest="date_from", required=True, help="today, yesterday, 30m, 24h, 7d or ISO 8601")
    parser.add_argument("--to", dest="date_to", help="like --from (default now)")
    parser.add_argument("--archive-bucket", help="an archive bucket in AWS (your credentials); default: the local stack's")


# --- serve -----------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from samlocal.stack import LocalStack, StackOptions
    from samlocal import template as template_module

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.verbose:
        logging.getLogger("samlocal").setLevel(logging.INFO)
    _access_log()
    parameters = dict(item.split("=", 1) for item in args.parameter)
    options = StackOptions(
        template_path=(args.template or template_module.TEMPLATE),
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        dynamodb_port=args.dynamodb_port,
        in_memory=args.in_memory,
        parameters=parameters,
        poll_seconds=args.poll_seconds,
        ttl_sweep_seconds=args.ttl_sweep_seconds,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"activitylog: warning: listening on {args.host}: the /_local endpoints have no auth; keep this to trusted networks",
              file=sys.stderr)
    running = _running_pid(args.data_dir)
    if running and not args.in_memory:
        raise SetupError(f"another `activitylog serve` (pid {running}) is using {args.data_dir}: stop it first, "
                         "or use --in-memory or another --data-dir")
    if args.allow_loopback_streams:  # the functions' own setting (activitylog.config: STREAMS_ALLOW_LOOPBACK), never the template's
        from samlocal import stack as stack_module

        stack_module.LOCAL_FUNCTION_ENVIRONMENT["STREAMS_ALLOW_LOOPBACK"] = "1"
    started = time.monotonic()
    stack = LocalStack(options)
    # Ctrl-C and `kill` stop it the same clean way (a shell's `&` would otherwise ignore SIGINT).
    previous = {number: signal.signal(number, _interrupt) for number in (signal.SIGTERM, signal.SIGINT)}
    stdout = sys.stdout
    if not args.verbose:  # CloudWatch reads the functions' EMF lines from stdout; here they go to a file
        args.data_dir.mkdir(parents=True, exist_ok=True)
        sys.stdout = MetricsAside(stdout, open(args.data_dir / "metrics.log", "a", encoding="utf-8"))  # noqa: SIM115
    try:
        stack.start()
        seeded = _seed_if_empty(stack, args) if not args.no_seed else None
        webhook_secret = _dev_webhook_secrets(stack)
        _write_state(args.data_dir, stack)
        _banner(stack, seeded, time.monotonic() - started, args, webhook_secret)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping: HTTP server, event sources, moto, DynamoDB Local …", file=sys.stderr)
        return 0
    finally:
        stack.stop()
        (args.data_dir / STATE_FILE).unlink(missing_ok=True)
        for number, handler in previous.items():
            signal.signal(number, handler)
        if isinstance(sys.stdout, MetricsAside):
            sys.stdout.sink.close()
            sys.stdout = stdout


def _access_log() -> None:
    """One plain line per HTTP request (method, path, status, ms), shown without --verbose."""
    access = logging.getLogger("samlocal.access")
    if not access.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


class MetricsAside(io.TextIOBase):
    """The process's stdout with Powertools' EMF lines (one JSON document per request, which
    CloudWatch turns into metrics) written to ``sink`` instead; everything else, such as the
    functions' JSON logs, passes through. Each thread's text is passed on in whole lines
    (``print`` writes a line and its newline separately), so lines never interleave."""

    def __init__(self, terminal: Any, sink: Any) -> None:
        super().__init__()
        self.terminal, self.sink = terminal, sink
        self._pending = threading.local()
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._pending.text = (getattr(self._pending, "text", "") + text).split("\n")
        if lines:
            with self._lock:
                for line in lines:
                    (self.sink if line.startswith('{"_aws":') else self.terminal).write(line + "\n")
                self.sink.flush()
        return len(text)

    def flush(self) -> None:
        partial, self._pending.text = getattr(self._pending, "text", ""), ""
        with self._lock:
            self.terminal.write(partial)
            self.terminal.flush()

    def fileno(self) -> int:
        return self.terminal.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.terminal.encoding


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _seed_if_empty(stack, args: argparse.Namespace) -> Optional[str]:
    from activitylog.archive import layout
    from activitylog_local.client import InProcessClient
    from activitylog_local.demo import DEMO_ORG, HISTORY_COUNT, HISTORY_DAYS, demo_entries, history_cut, seed

    # Asked of the archive, not the API: a GET would have the query function hold "no warm files" for a minute
    # (warm.tier.MANIFEST_SECONDS), hiding the history compacted below. Whatever the API records is archived.
    archive = _archive(stack)
    if next(iter(archive.keys(layout.org_prefix(DEMO_ORG))), None) is not None:
        return "has data already (kept)"
    client = InProcessClient(stack, stack.token(DEMO_ORG, "svc_demo_seed", scopes=("read", "write")))
    log = args.data_dir / "seed.log"
    now = datetime.now(timezone.utc)
    # The API records entries within HotTableDays; older history is archived and compacted as production holds it.
    hot_table_days = int(stack.intrinsics.parameters.get("HotTableDays", 30))
    days = min(args.seed_days, hot_table_days - 1)
    warm_end, hot_start = history_cut(now, hot_table_days)
    entries = demo_entries(now, args.seed_count, days, history_count=HISTORY_COUNT if args.seed_history is None else args.seed_history,
                           history_from=now - timedelta(days=HISTORY_DAYS), skip=(warm_end, hot_start))
    older = [e for e in entries if e.occurred_at < _iso_ms(warm_end)]
    print(f"seeding {DEMO_ORG}: {len(entries) - len(older)} demo entries through the API (the last {hot_table_days - 1} days at most), "
          f"{len(older)} older ones into the warm tier (function logs: {log}) …", file=sys.stderr)
    with _stdout_to(log):  # the functions' JSON logs and metrics would bury the progress bar
        compacted = _seed_history(stack, archive, older, now, hot_table_days) if older else None
        result = seed(client, entries[len(older):], _progress_bar("seed"))
        archived = compacted() if compacted else None
    return f"seeded {result['entries']} entries, {result['updates']} job updates" + (
        f"; {archived['entries']} older entries archived and compacted into the warm tier" if archived else "")


def _archive(stack) -> Any:
    import boto3

    from activitylog.archive.store import ArchiveStore

    s3 = boto3.client("s3", endpoint_url=stack.aws.url, region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
    return ArchiveStore(stack.buckets["ArchiveBucket"], s3)


def _iso_ms(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seed_history(stack, archive: Any, older: list, now: datetime, hot_table_days: int) -> Callable[[], dict]:
    """The demo's older entries into the archive bucket as the ArchiveFunction writes them, signed by the
    DigestFunction (as its hourly runs would have), then compacted by the CompactFunction, as on any day.

    The digest runs before anything else is recorded (a manifest the stream writes meanwhile could fall before
    its cut and be missed); compaction runs beside the API's seeding (it reads only days older than it records):
    the answer waits for it."""
    from activitylog_local.demo import DEMO_ORG, archive_history

    archived = archive_history(archive, DEMO_ORG, older, now, hot_table_days, seal=_sealer(stack, DEMO_ORG))
    _note_members(stack, DEMO_ORG, archived.pop("built"))
    stack.scheduler.run_now("DigestFunction", {"until": _iso_ms(datetime.now(timezone.utc))})
    compaction = threading.Thread(target=stack.scheduler.run_now, args=("CompactFunction",), name="demo-compaction")
    compaction.start()

    def done() -> dict:
        compaction.join()
        return archived

    return done


def _sealer(stack, org: str) -> Optional[Callable[[list], list]]:
    """The store's sealing of personal fields under their subjects' keys (``activitylog.privacy``), on the
    stack's own subject key table and service key; None where the template keeps none."""
    if "SubjectKeyTable" not in stack.tables:
        return None
    import boto3

    from activitylog.subjects import SubjectKeys
    from activitylog.store.subjectkeys import SubjectKeyTable

    table = SubjectKeyTable(stack.tables["SubjectKeyTable"], region="us-east-1")
    table.client = boto3.client("dynamodb", endpoint_url=stack.dynamodb.endpoint, region_name="us-east-1",
                                aws_access_key_id="local", aws_secret_access_key="local")
    kms = boto3.client("kms", endpoint_url=stack.aws.url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    keys = SubjectKeys(table, str(stack.intrinsics.resolve({"Ref": "ServiceKey"})), region="us-east-1", kms=kms)
    return lambda entries: keys.seal(org, entries)


def _note_members(stack, org: str, entries: list) -> None:
    """The members directory as the API's writes would have left it for entries it never saw (the history
    written straight into the archive): their names, and the kinds of entry they recorded, before any other
    entry is recorded (the directory vouches for kinds from a member's first entry on: ``store.actors``)."""
    import boto3

    from activitylog.store.actors import members_in, write_member

    client = boto3.client("dynamodb", endpoint_url=stack.dynamodb.endpoint, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    for member, named in members_in(entries).items():
        write_member(org, member, named, client=client, table=stack.tables["ActivityTable"])


@contextmanager
def _stdout_to(path: Path) -> Iterator[None]:
    """Point file descriptor 1 at ``path`` for a while (loggers keep their own handle on stdout)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    saved = os.dup(1)
    with open(path, "ab") as target:
        os.dup2(target.fileno(), 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _running_pid(data_dir: Path) -> Optional[int]:
    """The pid of a live ``serve`` that wrote its state file in ``data_dir``, if any."""
    try:
        pid = int(json.loads((data_dir / STATE_FILE).read_text())["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError):
        return None
    return pid


def _write_state(data_dir: Path, stack) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    state = {"url": stack.url, "issuer": stack.issuer, "audience": stack.audience, "pid": os.getpid(),
             "aws_endpoint": stack.aws.url, "buckets": stack.buckets}
    (data_dir / STATE_FILE).write_text(json.dumps(state))


def webhook_secrets_path(functions: dict) -> Optional[str]:
    """Where the template's webhook function reads signing secrets (its WEBHOOK_SECRETS_PATH)."""
    return next((f["environment"]["WEBHOOK_SECRETS_PATH"] for f in functions.values() if "WEBHOOK_SECRETS_PATH" in f["environment"]), None)


def _dev_webhook_secrets(stack) -> Optional[str]:
    """The demo org's signing secret for each registered provider, made once (SSM keeps them in .local); the Stripe one."""
    import boto3

    from activitylog.webhooks.providers import PROVIDERS

    from activitylog.webhooks.secrets import parameter_name
    from activitylog_local.demo import DEMO_ORG
    from samlocal.intrinsics import REGION

    path = webhook_secrets_path(stack.describe()["functions"])
    if path is None:
        return None
    ssm = boto3.client("ssm", region_name=REGION)
    values = {}
    for provider in PROVIDERS.values():
        name = parameter_name(path, DEMO_ORG, provider.name)
        try:
            values[provider.name] = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            values[provider.name] = provider.new_secret()
            ssm.put_parameter(Name=name, Value=values[provider.name], Type="SecureString")
    return values.get("stripe")


def _banner(stack, seeded: Optional[str], seconds: float, args: argparse.Namespace, webhook_secret: Optional[str] = None) -> None:
    from activitylog_local.demo import DEMO_ORG, TEAM, email_of

    # A dashboard user reads (and exports) and may retry a failed job; write tokens are for the internal services
    # that record (they name any actor).
    token = stack.token(DEMO_ORG, TEAM[0][0], TEAM[0][1], scopes=("read", "retry"), email=email_of(TEAM[0]))
    where = "in memory" if args.in_memory else f"kept in {args.data_dir / 'dynamodb'}"
    sources = []
    for schedule in stack.scheduler.schedules:
        if schedule.function:
            sources.append(f"  Schedule         {schedule.function} {schedule.expression} (now: activitylog run {schedule.function})")
    for logical_id in stack.queues:
        sources.append(f"  Queue            {logical_id} (GET {stack.url}/_local/queues/{logical_id})")
    for logical_id in stack.state_machines:
        sources.append(f"  State machine    {logical_id}")
    if webhook_secret:
        from activitylog.webhooks.providers import PROVIDERS

        sources.append(f"  Webhooks         POST {stack.url}/webhooks/{{{'|'.join(PROVIDERS)}}}/{{org}}   "
                       f"(dead letters back: activitylog redrive)\n"
                       f"                   {DEMO_ORG}'s Stripe signing secret: {webhook_secret}")
    wiring = ("\n" + "\n".join(sources)) if sources else ""
    # The fragment signs the tab in: the page keeps the token for the session and drops it from the address bar.
    page = (f"\n  Activity Logs    {stack.url}/#token={token}\n"
            f"                   (the page, signed in as {TEAM[0][1]}; or open {stack.url}/ and paste the token below)") if stack.site else ""
    print(f"""
Activity log service: {stack.url}   (up in {seconds:.1f} s){page}
  DynamoDB Local   {stack.dynamodb.endpoint} ({where})
  Functions        {', '.join(stack.runtime.specs)}; routes from {stack.template_path.name}
  Demo org         {DEMO_ORG}{f' — {seeded}' if seeded else ''}
  Outbox           {stack.outbox.folder} (GET {stack.url}/_local/outbox){wiring}

Token for {DEMO_ORG} as {TEAM[0][1]} (read, retry; 12 h):
  export TOKEN={token}

Try (the dashboard's default window is the last 24 hours; add &from=… for more):
  curl -H "Authorization: Bearer $TOKEN" '{stack.url}/activities?type=BACKGROUND_JOB&status=FAILED,WARNING'
  .venv/bin/activitylog query --type BACKGROUND_JOB --status FAILED,WARNING --from 30d
  curl -X POST -H "Authorization: Bearer $TOKEN" {stack.url}/activities/ID/retry     (a failed SYNC_SQUARE_STOCK's ID)
  curl -H "Authorization: Bearer $TOKEN" {stack.url}/activities/ID/related           (its chain: the retry, the new run)
  .venv/bin/activitylog token --org org_other --user u_1 --scope read
  .venv/bin/activitylog token --org {DEMO_ORG} --user svc_contacts --scope write   (an internal service that records)

Ctrl-C stops everything this started.""", flush=True)


def _progress_bar(label: str):
    interactive = sys.stderr.isatty()
    state = {"shown": -1}

    def show(done: int, total: int) -> None:
        percent = int(done * 100 / total) if total else 100
        if interactive:
            filled = percent * 30 // 100
            sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} {percent}%")
            if done >= total:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif percent // 10 != state["shown"] // 10 or done >= total:
            print(f"{label}: {done}/{total} ({percent}%)", file=sys.stderr, flush=True)
        state["shown"] = percent

    return show


# --- clients of a running stack ----------------------------------------------------------------


def _state(args: argparse.Namespace) -> dict:
    path = args.data_dir / STATE_FILE
    state = json.loads(path.read_text()) if path.exists() else {}
    if getattr(args, "url", None):
        state["url"] = args.url
    state.setdefault("url", f"http://127.0.0.1:{DEFAULT_PORT}")
    if "issuer" not in state:
        from samlocal import template as template_module
        from samlocal.intrinsics import Intrinsics

        parameters = Intrinsics(template_module.load()).parameters
        state["issuer"] = parameters.get("JwtIssuer", "https://auth.local/")
        state["audience"] = parameters.get("JwtAudience", "activity-log")
    return state


def _client(args: argparse.Namespace, org: str, user: str, scopes) -> Any:
    from samlocal.auth import DevKey
    from activitylog_local.client import HttpClient

    state = _state(args)
    token = DevKey.load_or_create(args.data_dir).mint(org=org, user=user, scopes=scopes, issuer=state["issuer"], audience=state["audience"])
    return HttpClient(state["url"], token)


def cmd_seed(args: argparse.Namespace) -> int:
    from activitylog_local.demo import demo_entries, seed

    from activitylog_local.client import HttpClient

    client = _client(args, args.org, "svc_demo_seed", ("read", "write"))
    # The API refuses entries older than the table's days (HotTableDays): stay a day inside them.
    _, stack = HttpClient(_state(args)["url"]).request("GET", "/_local/stack")
    hot = {f["environment"].get("HOT_TABLE_DAYS") for f in stack["functions"].values()} - {None}
    days = min([args.days] + [int(value) - 1 for value in hot])
    entries = demo_entries(datetime.now(timezone.utc), args.count, days)
    result = seed(client, entries, _progress_bar("seed"))
    print(f"{args.org}: {result['entries']} entries recorded, {result['updates']} job updates applied")
    return 0


def _relative_or_iso(text: Optional[str], now: Optional[datetime] = None) -> Optional[str]:
    """``--from``/``--to``: today, yesterday (midnight, this machine's time zone), 30m, 24h, 7d, 2w, or ISO 8601."""
    if not text:
        return None
    now = now or datetime.now(timezone.utc)
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        midnight = now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        moment = midnight - timedelta(days=1 if word == "yesterday" else 0)
    elif word == "now":
        moment = now
    elif word[:-1].isdigit() and word[-1] in units:
        moment = now - timedelta(**{units[word[-1]]: int(word[:-1])})
    else:
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"date {text!r}: use today, yesterday, 30m, 24h, 7d or ISO 8601 (2026-11-20T09:00:00Z)") from None
        return text
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _list_path(args: argparse.Namespace, cursor: Optional[str] = None, date_from: Optional[str] = None) -> str:
    from urllib.parse import urlencode

    params: list[tuple[str, str]] = []
    for name, values in (("type", getattr(args, "type", [])), ("status", getattr(args, "status", []))):
        if values:
            params.append((name, ",".join(values)))
    for name, value in (("user", getattr(args, "user", None)), ("entity_type", getattr(args, "entity_type", None)),
                        ("entity_id", getattr(args, "entity_id", None)),
                        ("correlation_id", getattr(args, "correlation_id", None)),
                        ("trace_id", getattr(args, "trace_id", None)),
                        ("from", date_from or _relative_or_iso(getattr(args, "date_from", None))),
                        ("to", _relative_or_iso(getattr(args, "date_to", None))),
                        ("limit", str(getattr(args, "limit", 200))), ("cursor", cursor)):
        if value:
            params.append((name, value))
    return "/activities" + (f"?{urlencode(params)}" if params else "")


def cmd_query(args: argparse.Namespace) -> int:
    # Resolved once: every page of --all must ask for the same window (the cursor is bound to it).
    args.date_from, args.date_to = _relative_or_iso(args.date_from), _relative_or_iso(args.date_to)
    client = _client(args, args.org, "u_cli", ("read",))
    if args.related or args.id:
        path, render = ((f"/activities/{args.related}/related", format_chain) if args.related
                        else (f"/activities/{args.id}", format_detail))
        status, answer = client.request("GET", path)
        if status != 200 or args.json:
            print(_json(answer, indent=2))
        else:
            print(render(answer), end="")
        return 0 if status == 200 else 1
    cursor, shown, first = None, 0, True
    while True:
        status, answer = client.request("GET", _list_path(args, cursor))
        if status != 200:
            print(f"activitylog: the API answered {status}: {json.dumps(answer)}", file=sys.stderr)
            return 1
        if args.json:
            print(_json(answer))
        else:
            print(format_table(answer["items"], header=first), end="")
        first = False
        shown += len(answer["items"])
        cursor = answer.get("next_cursor")
        if not args.all or not cursor:
            break
    if not args.json:
        more = "  (more: --all)" if cursor and not args.all else ""
        print(f"{shown} entries{more}")
    return 0


# How far before the newest entry seen a poll starts: an id is minted when its entry occurs, and one
# minted a moment before a newer entry can be written after it. The page's live.js (GRACE_MS) uses the same.
TAIL_GRACE = timedelta(seconds=30)


def cmd_tail(args: argparse.Namespace) -> int:
    """Entries matching the filters, oldest first, as they are recorded: each poll lists those from the
    newest seen less ``TAIL_GRACE`` (GET /activities, the filters as ``query`` sends them) and prints the unseen."""
    from activitylog import ids

    client = _client(args, args.org, "u_cli", ("read",))
    args.limit, args.date_from, args.date_to = 200, None, None
    seen: set[str] = set()
    since = datetime.now(timezone.utc) - timedelta(minutes=5)  # what a newly started tail shows first
    header = True
    print(f"following {args.org} (Ctrl-C to stop) …", file=sys.stderr)
    while True:
        date_from = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        seen = {entry_id for entry_id in seen if entry_id >= ids.lower_bound(since)}  # older ones cannot come again
        items, cursor = [], None
        while True:
            status, answer = client.request("GET", _list_path(args, cursor, date_from))
            if status != 200:
                print(f"activitylog: the API answered {status}: {json.dumps(answer)}", file=sys.stderr)
                return 1
            items += answer["items"]
            cursor = answer.get("next_cursor")
            if not cursor:
                break
        new = [item for item in reversed(items) if item["id"] not in seen]
        if new:
            if args.json:
                print("\n".join(_json(item) for item in new), flush=True)
            else:
                print(format_table(new, header=header), end="", flush=True)
            header = False
            seen.update(item["id"] for item in new)
            since = max(since, ids.occurred_at(max(seen)) - TAIL_GRACE)
        time.sleep(args.interval)


def cmd_run(args: argparse.Namespace) -> int:
    from activitylog_local.client import HttpClient

    client = HttpClient(_state(args)["url"])
    try:
        event = json.loads(args.event) if args.event else None
    except ValueError as error:
        print(f"activitylog: --event is not JSON ({error})", file=sys.stderr)
        return 2
    if event is None:
        # Without a schedule there is no event to make up: an API function run on {} only
        # fails inside its framework, which tells the user nothing.
        _, stack = client.request("GET", "/_local/stack")
        names = {logical_id: function["name"] for logical_id, function in stack["functions"].items()}
        function = next((lid for lid, name in names.items() if args.function in (lid, name)), None)
        if function is None:
            print(f"activitylog: no function {args.function!r} in the template (functions: {', '.join(sorted(names))})", file=sys.stderr)
            return 2
        if not any(schedule["function"] == function for schedule in stack["schedules"]):
            print(f"activitylog: {function} has no schedule to take an event from: give it one with --event JSON "
                  f"(an HTTP API function is easier to call over HTTP: activitylog query, or curl)", file=sys.stderr)
            return 2
    status, answer = client.request("POST", f"/_local/run/{args.function}", event)
    if status == 200:
        print(_json(answer, indent=2))
        return 0
    error = answer.get("error") if isinstance(answer, dict) else None
    if error:  # the function raised: its error in one line, its own traceback below, as Lambda's log shows it
        print(f"activitylog: {args.function} raised {error['errorType']}: {error['errorMessage']}", file=sys.stderr)
        print("".join(error.get("stackTrace") or []).rstrip(), file=sys.stderr)
    else:
        print(f"activitylog: {args.function}: {answer.get('message') if isinstance(answer, dict) else answer}", file=sys.stderr)
    return 1


def _window(args: argparse.Namespace) -> dict:
    """--from/--to as the API's parameters (relative times resolved once)."""
    window = {"from": _relative_or_iso(args.date_from)}
    if args.date_to:
        window["to"] = _relative_or_iso(args.date_to)
    return window


def _record_support_read(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    """Record this read in ``--org``'s log through the API (README "Access transparency") and its answer; a
    ValueError, and nothing read, unless the API recorded it in that very org."""
    from activitylog_local.client import HttpClient

    if args.api or args.token:
        if not (args.api and args.token):
            raise ValueError("--api and --token go together: the API's URL and a support token of --org")
        client = HttpClient(args.api, args.token)
    else:  # the running local stack, with a support token minted from its dev key
        client = _client(args, args.org, args.support_user, ["support"])
    status, answer = client.request(method, path, body)
    if status not in (200, 201):
        said = answer.get("message") if isinstance(answer, dict) else answer
        raise ValueError(f"the read could not be recorded in {args.org}'s log ({status}: {said}): nothing was read")
    recorded_in = answer.get("org_id", answer.get("org")) if isinstance(answer, dict) else None
    if recorded_in != args.org:
        raise ValueError(f"the token's org is {recorded_in}, not --org {args.org}: nothing was read")
    return answer


def cmd_archive_query(args: argparse.Namespace) -> int:
    import tempfile

    from activitylog.archive.digests import verify
    from activitylog.support.archive_query import mirror, mirror_warm, query, raw_window
    from activitylog.errors import BadRequest
    from activitylog.query.filters import parse_list_request
    from activitylog_local.archive import pinned_keys, sources

    params = _window(args)
    for name, values in (("type", args.type), ("status", args.status)):
        if values:
            params[name] = ",".join(values)
    for name, value in (("user", args.user), ("entity_type", args.entity_type), ("entity_id", args.entity_id)):
        if value:
            params[name] = value
    try:
        wanted = parse_list_request(params).filter  # the API's own parsing: the same filters, the same errors
    except BadRequest as error:
        raise ValueError(f"{error.field}: {error.message}") from None
    now = datetime.now(timezone.utc)
    found = sources(args.data_dir, args.archive_bucket, args.digest_bucket, args.warm_bucket)
    if found.digests is None:
        raise ValueError("--archive-bucket needs --digest-bucket")
    # Recorded in the org's log first: the query reads its entries with credentials the service never sees.
    _record_support_read(args, "POST", "/support/archive-queries", {"filters": params, "reason": args.reason})
    low, high = wanted.window(now)
    keys = pinned_keys(found, args.public_key, args.signing_key)
    with tempfile.TemporaryDirectory(prefix="activitylog-archive-") as scratch:
        root = Path(scratch)
        # The days compaction covers come from the warm files (each entry's latest version); the raw archive
        # is read only after them.
        warm = mirror_warm(found.warm, args.org, wanted, now, root / "warm-files") if found.warm and not args.raw else None
        raw = raw_window(warm.through if warm else None, low, high)
        report = None
        if raw is not None:
            # Only versions a digest signed by a pinned key covers (and, if asked, the pending ones): a line
            # forged into the archive is never an answer.
            report = verify(found.archive, found.digests, args.org, *raw, keys)
            trusted = report.signed | (report.pending if args.pending else set())
            mirror(found.archive, args.org, *raw, root, keep=lambda line: (line.entry_id, line.sequence, line.sha256) in trusted)
        rows = query(root, args.org, wanted, now, args.limit, warm=warm)
    if args.json:
        for row in rows:
            print(_json(row))
        return 0
    for row in rows:
        gone = row["expired_at"] or row["removed_at"]
        if gone:
            row["event"] = f"{row['event']} [{'expired' if row['expired_at'] else 'deleted'} {gone[:10]}]"
    print(format_table(rows), end="")
    print(f"{len(rows)} entries in {found.where}"
          + (f" (up to {warm.through} from the warm files)" if warm else "")
          + (f" ({len(report.pending)} versions wait for the next digest: --pending shows them)"
             if report and report.pending and not args.pending else ""))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from activitylog.archive.digests import verify
    from activitylog_local.archive import pinned_keys, sources

    window = _window(args)
    low, high = _parse(window["from"]), _parse(window["to"]) if "to" in window else datetime.now(timezone.utc)
    if low > high:
        raise ValueError("--from is after --to")
    found = sources(args.data_dir, args.archive_bucket, args.digest_bucket)
    if found.digests is None:
        raise ValueError("--archive-bucket needs --digest-bucket")
    report = verify(found.archive, found.digests, args.org, low, high, pinned_keys(found, args.public_key, args.signing_key))
    if args.json:
        print(_json(report.to_dict(), indent=2))
        return 0 if report.ok else 1
    print(f"{args.org}: entries from {window['from']} to {window.get('to', 'now')} in {found.where}: "
          f"{report.versions} archived versions, {report.digests} signed digests")
    for finding in report.findings:
        print(f"  {finding.kind.upper():<10} {printable(finding.message)}")
    pending = len(report.findings) - len(report.problems)
    if report.ok:
        print(f"OK: every archived version is the one its digest signed; the chain is whole; "
              f"{report.checkpoints} checkpoints grow one consistent tree"
              + (f" ({pending} versions wait for the next digest)" if pending else ""))
        return 0
    print(f"FAILED: {len(report.problems)} problems")
    return 1


def cmd_prove(args: argparse.Namespace) -> int:
    from urllib.parse import urlencode

    from activitylog.archive.proof import NoProof, build, bundle_bytes
    from activitylog.ids import check_entry_id
    from activitylog_local.archive import pinned_keys, sources

    from activitylog.errors import BadRequest

    try:
        check_entry_id(args.id)
    except BadRequest as error:
        raise ValueError(f"id: {error.message}") from None
    found = sources(args.data_dir, args.archive_bucket, args.digest_bucket)
    if found.digests is None:
        raise ValueError("--archive-bucket needs --digest-bucket")
    keys = pinned_keys(found, args.public_key, args.signing_key)
    # The bundle holds the entry's versions: the API's proof route records the read in the org's log first.
    _record_support_read(args, "GET", f"/support/activities/{args.id}/proof?{urlencode({'reason': args.reason})}")
    try:
        bundle = build(found.archive, found.digests, args.org, args.id, keys)
    except NoProof as error:
        raise ValueError(str(error)) from None
    if bundle is None:
        raise ValueError(f"no entry {args.id} of org {args.org} in {found.where}")
    body = bundle_bytes(bundle)
    if args.out:
        args.out.write_bytes(body)
        print(f"{len(bundle['versions'])} versions of {args.id} in the tree of {bundle['checkpoint']['tree_size']}: {args.out} "
              f"(check it with docs/check_proof.py)")
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    return 0


def cmd_secrets_set(args: argparse.Namespace) -> int:
    from activitylog.entry import ORG_ID_CHARACTERS
    from activitylog.webhooks.receiver import ORG_ID
    from activitylog.webhooks.secrets import parameter_name
    from activitylog_local.client import HttpClient

    if not ORG_ID.fullmatch(args.org):
        raise ValueError(f"--org {args.org!r}: {ORG_ID_CHARACTERS}")
    if not args.value.strip():
        raise ValueError("--value is empty")
    url = _state(args)["url"]
    _, stack = HttpClient(url).request("GET", "/_local/stack")
    if args.api_key:
        return _set_api_key(args, url, stack)
    path = webhook_secrets_path(stack["functions"])
    if path is None:
        raise ValueError("the running stack's template has no webhook function (no WEBHOOK_SECRETS_PATH)")
    name = _put_secure_string(stack, parameter_name(path, args.org, args.provider), args.value)
    print(f"{args.provider} signing secret for {args.org} set ({name}); its deliveries: POST {url}/webhooks/{args.provider}/{args.org}")
    return 0


def _put_secure_string(stack: dict, name: str, value: str) -> str:
    """A SecureString in the running stack's SSM (moto), as an operator puts one in AWS; its name."""
    import boto3

    from samlocal.intrinsics import REGION

    ssm = boto3.client("ssm", endpoint_url=stack["aws_endpoint"], region_name=REGION, aws_access_key_id="local",
                       aws_secret_access_key="local")
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    return name


def _set_api_key(args: argparse.Namespace, url: str, stack: dict) -> int:
    """The org's key for the provider's API, where the recovery function reads it (its PROVIDER_KEYS_PATH)."""
    from activitylog.webhooks.providers import PROVIDERS
    from activitylog.webhooks.secrets import parameter_name

    provider = PROVIDERS[args.provider]
    if provider.recovery_days is None:
        raise ValueError(f"--api-key: {provider.recovery_elsewhere or provider.display + ' has no API listing missed events'}")
    path = next((f["environment"]["PROVIDER_KEYS_PATH"] for f in stack["functions"].values()
                 if "PROVIDER_KEYS_PATH" in f["environment"]), None)
    if path is None:
        raise ValueError("the running stack's template has no recovery function (no PROVIDER_KEYS_PATH)")
    name = _put_secure_string(stack, parameter_name(path, args.org, args.provider), args.value)
    print(f"{provider.display} API key for {args.org} set ({name}); recover missed events: POST {url}/recoveries/{args.provider}")
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    from activitylog_local.client import HttpClient

    client = HttpClient(_state(args)["url"])
    path = f"/_local/queues/{args.queue}/redrive" if args.queue else "/_local/redrive"
    status, answer = client.request("POST", path)
    if status != 200:
        print(f"activitylog: {answer.get('message') if isinstance(answer, dict) else answer}", file=sys.stderr)
        return 1
    if not answer["redriven"]:
        print("no dead-letter queue in the template")
    for dead, move in answer["redriven"].items():
        print(f"{dead}: {move['moved']} message{'s' if move['moved'] != 1 else ''} moved back to {move['to']}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from samlocal.auth import DevKey

    state = _state(args)
    ttl = _relative_seconds(args.ttl)
    token = DevKey.load_or_create(args.data_dir).mint(org=args.org, user=args.user, name=args.name, email=args.email,
                                                     scopes=args.scope or ["read"],
                                                     issuer=state["issuer"], audience=state["audience"], ttl_seconds=ttl)
    print(token)
    return 0


def _relative_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[:-1].isdigit() and text[-1] in units:
        return int(text[:-1]) * units[text[-1]]
    if text.isdigit():
        return int(text)
    raise ValueError(f"--ttl {text!r}: use 30m, 12h or 7d")


# --- the dashboard's table ----------------------------------------------------------------------


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ago(moment: datetime, now: Optional[datetime] = None) -> str:
    seconds = max(0, ((now or datetime.now(timezone.utc)) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        hours = int(seconds // 3600)
        return f"{hours} hr{'s' if hours > 1 else ''} ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days > 1 else ''} ago"


def format_table(items: list[dict], header: bool = True, now: Optional[datetime] = None) -> str:
    """Time, Type, Actor, Event, Status (and the id, for ``query --id``)."""
    columns = [("TIME", 12), ("TYPE", 15), ("ACTOR", 14), ("EVENT", 52), ("STATUS", 11), ("ID", 26)]
    lines = []
    if header:
        lines.append("  ".join(name.ljust(width) for name, width in columns).rstrip())
    for item in items:
        actor = item.get("actor") or {}
        values = [ago(_parse(item["occurred_at"]), now), item["type"], actor.get("name") or actor.get("id", ""),
                  item["event"], item["status"], item["id"]]
        lines.append("  ".join(_cut(printable(str(v)), w).ljust(w) for v, (_, w) in zip(values, columns, strict=True)).rstrip())
    return "".join(line + "\n" for line in lines)


def format_chain(chain: dict, now: Optional[datetime] = None) -> str:
    """``query --related``: the chain oldest first, as the table shows entries."""
    more = "" if chain["complete"] else f" (the first 500: query --correlation-id {chain['correlation_id']} --from … --all lists them all)"
    return format_table(chain["items"], now=now) + f"{len(chain['items'])} entries in chain {chain['correlation_id']}{more}\n"


def format_detail(entry: dict, now: Optional[datetime] = None) -> str:
    """The detail panel: actor, action, entity, the before/after diff, metadata, error."""
    actor, entity = entry.get("actor") or {}, entry.get("entity") or {}
    lines = [
        f"{entry['event']}",
        f"  {entry['type']} · {entry['status']} · {ago(_parse(entry['occurred_at']), now)} ({entry['occurred_at']})",
        f"  Actor     {actor.get('name')} ({actor.get('kind')}, {actor.get('id')})",
        f"  Action    {entry.get('action')}",
    ]
    if entry.get("finished_at"):  # null while IN_PROGRESS; absent from older answers
        took = (_parse(entry["finished_at"]) - _parse(entry["occurred_at"])).total_seconds()
        lines.insert(2, f"  Finished  {entry['finished_at']} (took {duration(took)})")
    if entity:
        lines.append(f"  Entity    {entity.get('type')} {entity.get('id')}" + (f" · {entity['label']}" if entity.get("label") else ""))
    if entry.get("changes"):
        lines.append("  Changes")
        for field_name, change in entry["changes"].items():
            lines.append(f"    {field_name}: {json.dumps(change.get('before'), ensure_ascii=False)} → {json.dumps(change.get('after'), ensure_ascii=False)}")
    if entry.get("metadata"):
        lines.append("  Metadata")
        lines += ["    " + line for line in json.dumps(entry["metadata"], indent=2, ensure_ascii=False).split("\n")]
    if entry.get("error"):
        error = entry["error"]
        lines.append(f"  Error     {error.get('type') or 'Error'}: {error.get('message')}")
        lines += ["    " + line for line in (error.get("stack") or "").rstrip().splitlines()]
    if entry.get("retry_of"):
        lines.append(f"  Retry of  {entry['retry_of']}")
    if entry.get("trace_id"):
        lines.append(f"  Trace     {entry['trace_id']}" + (f"  span {entry['span_id']}" if entry.get("span_id") else ""))
    if entry.get("correlation_id"):
        lines.append(f"  Chain     {entry['correlation_id']}  (all of it: activitylog query --related {entry['id']})")
    if (entry.get("retry") or {}).get("reason"):
        lines.append(f"  Retry     {entry['retry']['reason']}")
    lines.append(f"  ID        {entry['id']}  (give this to support)")
    return "".join(printable(line) + "\n" for line in lines)


def duration(seconds: float) -> str:
    """850 ms, 42 s, 3 min 12 s, 2 h 5 min."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))} ms"
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


# Bidi controls reorder what follows them on the line (Trojan Source, CVE-2021-42574); the
# line and paragraph separators break a line as a newline does.
_INVISIBLE = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


def printable(text: str) -> str:
    """``text`` with control characters (C0, DEL, C1) and bidi controls shown as ``\\uXXXX``.

    Entries are written by any writer: an actor named ``"\\x1b[31m"`` must not turn the
    terminal red, nor ``"\\u202e"`` reverse the rest of the row. The escape is JSON's, so a
    line of ``json.dumps`` output stays valid JSON (there they only occur inside strings).
    """
    if text.isprintable():  # the usual case: nothing to look at
        return text
    return "".join(f"\\u{ord(c):04x}" if c in _INVISIBLE or unicodedata.category(c) == "Cc" else c for c in text)


def _json(document: Any, indent: Optional[int] = None) -> str:
    """The API's answer as JSON, readable (not ASCII-escaped) but safe to print."""
    return "\n".join(printable(line) for line in json.dumps(document, indent=indent, ensure_ascii=False).split("\n"))


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


if __name__ == "__main__":
    sys.exit(main())
