"""Host references checked against a lab's topology.

A lab's hosts are the standard ground segment's (``STANDARD_TOPOLOGY``) after its
``topology`` changes (hosts removed, hosts added). Every argument of a check, an inject
or an adversary action that names a host is marked in its model with
:class:`~labctl.spec.vocabulary.HostRef` (``HostName`` is ``str`` so marked), so the
loader finds them in any vocabulary entry, a plugin's too, and checks each value, given
or default, against those hosts: a name that is no host of the lab (``groundstation``
for ``ground-station``) would otherwise reach a check that observes nothing there.
``topology.detach`` and the reference remediation's steps name hosts as well.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from labctl.errors import SpecProblem
from labctl.spec.builtin_vocabulary import Attach
from labctl.spec.models import Lab, Network
from labctl.spec.vocabulary import HostRef, Registry, Vocabulary
from labctl.spec.yamlsource import Path_, YamlDocument

#: (path inside the arguments, the value written, the host it names, its marker)
Found = tuple[Path_, str, str, HostRef]


def host_reference_problems(doc: YamlDocument, lab: Lab, vocab: Vocabulary) -> list[SpecProblem]:
    """Every host a structurally valid ``lab`` names in vocabulary arguments, in
    ``topology.detach`` and in its remediation steps that is not one of its hosts (or
    not on the networks its marker asks for)."""
    hosts = _with_injected_networks(lab, vocab, lab.hosts())
    problems: list[SpecProblem] = []
    for path, registry, name, args in _entries(lab, vocab):
        entry = registry.get(name)
        if entry is None:
            continue  # the vocabulary pass reports it
        for inner, value, host, ref, given in _named_hosts(entry.args, args):
            why = _why(lab, hosts, host, ref)
            if why is None:
                continue
            if not given:
                message = f"{registry.kind} {name!r}: {inner[0]} defaults to {value!r}, which {why}"
                problems.append(doc.problem(path, message))
            else:
                problems.append(doc.problem((*path, "args", *inner), _named(value, host, why)))
    for k, link in enumerate(lab.topology.detach):
        why = _why(lab, hosts, link.host, HostRef())
        if why is not None:
            problems.append(
                doc.problem(("topology", "detach", k, "host"), _named(link.host, link.host, why))
            )
    one_script = isinstance(lab.solution.remediation, str)
    for k, step in enumerate(lab.solution.remediation_steps):
        why = _why(lab, hosts, step.host.value, HostRef())
        if why is not None:
            at: Path_ = ("solution", "remediation")
            if not one_script:
                at = (*at, k, "host")
            problems.append(doc.problem(at, _named(step.host.value, step.host.value, why)))
    return problems


def _with_injected_networks(
    lab: Lab, vocab: Vocabulary, hosts: dict[str, frozenset[Network]]
) -> dict[str, frozenset[Network]]:
    """``hosts`` with the networks an inject attaches a host to (an inject kind whose
    arguments are :class:`Attach`, e.g. ``network``) added: a host may be observed
    there once the instance is up."""
    joined = {name: set(networks) for name, networks in hosts.items()}
    for _, inject in lab.placed_injects():
        entry = vocab.injects.get(inject.kind)
        if entry is None or not issubclass(entry.args, Attach) or inject.host not in joined:
            continue
        try:
            attach = Attach.model_validate(dict(inject.args))
        except ValidationError:
            continue
        if attach.attached:
            joined[inject.host].add(attach.network)
    return {name: frozenset(networks) for name, networks in joined.items()}


def _named_hosts(
    model: type[BaseModel], args: Mapping[str, Any]
) -> Iterator[tuple[Path_, str, str, HostRef, bool]]:
    """(path inside the args, value, the host it names, its marker, whether it was
    given) for each host-naming value of ``args``. Arguments that do not validate (the
    vocabulary pass reports why) are still read field by field: a host written in a
    field that is valid is checked all the same."""
    try:
        valid = model.model_validate(dict(args))
    except ValidationError as exc:
        broken = {err["loc"][0] for err in exc.errors() if err["loc"]}
        for name, info in model.model_fields.items():
            if name in args and name not in broken:
                for inner, value, ref in _walk(args[name], info.annotation, info.metadata):
                    yield (name, *inner), value, ref.host_of(value), ref, True
        return
    for inner, value, host, ref in host_values(valid):
        yield inner, value, host, ref, inner[0] in valid.model_fields_set


def _named(value: str, host: str, why: str) -> str:
    """The message for a host ``value`` written in the lab."""
    if value != host:
        return f"{value!r} stands for host {host!r}, which {why}"
    if why.startswith("is not a host of this lab"):
        return f"unknown host {host!r}{why.removeprefix('is not a host of this lab')}"
    return f"host {host!r} {why}"


def _entries(
    lab: Lab, vocab: Vocabulary
) -> Iterator[tuple[Path_, Registry, str, Mapping[str, Any]]]:
    """(path of the mapping, its registry, the name it gives, its args) for every
    vocabulary reference of the lab."""
    for i, objective in enumerate(lab.objectives):
        if objective.check is not None:
            check = objective.check
            yield ("objectives", i, "check"), vocab.checks, check.name, check.args
    for path, inject in lab.placed_injects():
        yield path, vocab.injects, inject.kind, inject.args
    for i, step in enumerate(lab.adversary):
        yield ("adversary", i), vocab.actions, step.action, step.args


def _why(lab: Lab, hosts: Mapping[str, frozenset[Network]], host: str, ref: HostRef) -> str | None:
    """Why ``host`` may not be named here ("is ..."), or None."""
    if host not in hosts:
        if host in {h.value for h in lab.topology.remove_hosts}:
            return "is removed by this lab's topology (topology.remove_hosts)"
        known = sorted(hosts)
        close = difflib.get_close_matches(host, known, n=1)
        if close:
            return f"is not a host of this lab (did you mean {close[0]!r}?)"
        return f"is not a host of this lab; its hosts: {', '.join(known) or 'none'}"
    if ref.on and not hosts[host] & set(ref.on):
        on = ", ".join(sorted(n.value for n in hosts[host])) or "none"
        who = ref.seen_from or "it is observed from"
        return f"is on no network {who} is on ({', '.join(ref.on)}); its networks: {on}"
    return None


def host_values(model: BaseModel) -> Iterator[Found]:
    """Every value in ``model`` whose type is marked with :class:`HostRef`, with its path
    inside the model (field name, then list indexes and nested fields)."""
    for name, info in type(model).model_fields.items():
        for inner, value, ref in _walk(getattr(model, name), info.annotation, info.metadata):
            yield (name, *inner), value, ref.host_of(value), ref


def _walk(
    value: Any, annotation: Any, metadata: Sequence[Any]
) -> Iterator[tuple[Path_, str, HostRef]]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *more = typing.get_args(annotation)
        yield from _walk(value, base, [*more, *metadata])
        return
    refs = [m for m in metadata if isinstance(m, HostRef)]
    if refs and isinstance(value, str):
        yield (), value, refs[-1]
        return
    if origin in (typing.Union, types.UnionType):
        for member in typing.get_args(annotation):
            matched = list(_walk(value, member, metadata))
            if matched:
                yield from matched
                return
        return
    if origin in (list, tuple, set, frozenset) and isinstance(value, list | tuple):
        items = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if len(items) == 1 or origin is not tuple:
            for i, item in enumerate(value):
                for inner, text, ref in _walk(item, items[0] if items else Any, ()):
                    yield (i, *inner), text, ref
        return
    if isinstance(value, BaseModel):
        for inner, text, _host, ref in host_values(value):
            yield inner, text, ref
