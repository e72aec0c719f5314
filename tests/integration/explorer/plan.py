"""What one run of the fault explorer does (`RunSpec`), and the space of runs: enumerated where it
is small, sampled with hypothesis where it is not, and the fast slice of the default test run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from hypothesis import strategies as st

SERVICES = ("bill", "endorsement", "credit_report")
METHODS = ("qr", "code", "code_confirm")  # QR on the phone; payment code; code + confirm on phone
ACTIONS = ("nothing", "cancel", "walk_away", "card_pulled")
FAULT_KINDS = ("error", "lost_before", "lost_after", "timeout", "slow", "duplicate")

# The screens the citizen meets, in order, per service: where an action can happen.
STEPS = {
    "bill": ("enter_account", "confirm", "pay", "processing"),
    "endorsement": ("read_idcard", "place_permit", "face", "choose", "pay", "processing"),
    "credit_report": ("read_idcard", "face", "choose", "pay", "processing"),
}
CARD_STEPS = {"read_idcard", "place_permit", "face", "choose", "pay"}  # a card is on a reader

# The calls the kiosk makes for a transaction, per backend, as the simulator names them
# (method and route). The catalog fetch before the citizen arrives is not a transaction's call.
PAYMENT_ROUTES = (
    "POST /pay/v1/orders",
    "GET /pay/v1/orders/{out_trade_no}",
    "POST /pay/v1/micropay",
    "POST /pay/v1/orders/{out_trade_no}/close",
    "POST /pay/v1/orders/{out_trade_no}/reverse",
    "POST /pay/v1/refunds",
    "GET /notify/v1/orders/{out_trade_no}",
)
SERVICE_ROUTES = {
    "bill": ("GET /utility/v1/bills/{account}", "POST /utility/v1/payments",
             "GET /utility/v1/payments/{key}"),
    "endorsement": ("POST /exit-entry/v1/permit-keys", "GET /exit-entry/v1/endorsement-types",
                    "POST /exit-entry/v1/applications", "GET /exit-entry/v1/applications/{key}"),
    "credit_report": ("GET /certificates/v1/credit-report-options",
                      "POST /certificates/v1/credit-reports",
                      "GET /certificates/v1/credit-reports/{key}"),
}
BACKEND_OF_PREFIX = {"/pay/": "payment", "/notify/": "notify", "/utility/": "utility",
                     "/exit-entry/": "exit_entry", "/certificates/": "certificates"}
# Journal writes a power cut can follow: every state, and the order and refund records.
KILL_POINTS = ("created", "identified", "quoted", "payment_pending", "paid", "submitted",
               "fulfilled", "receipted", "closed", "cancelled", "refund_pending", "refunded",
               "needs_attention", "order", "refund", "refund_done")


# The writes most runs reach: a power cut drawn from these is a power cut that happens.
COMMON_KILLS = ("created", "quoted", "payment_pending", "paid", "submitted", "fulfilled",
                "receipted", "closed", "cancelled", "order", "refund_pending")


def routes_of(service: str) -> tuple[str, ...]:
    return PAYMENT_ROUTES + SERVICE_ROUTES[service]


def backend_of(route: str) -> str:
    path = route.split(" ", 1)[1]
    return next(b for prefix, b in BACKEND_OF_PREFIX.items() if path.startswith(prefix))


@dataclass(frozen=True)
class Fault:
    route: str
    kind: str
    skip: int = 0  # let this many of those calls through first
    times: int = 1  # 1: one call; 3: the client's whole retry series; 99: every later one

    def rule(self) -> dict:
        delay = {"timeout": 1.0, "slow": 0.3}.get(self.kind, 0.0)
        return {"kind": self.kind, "route": self.route, "skip": self.skip, "times": self.times,
                "delay_s": delay}


@dataclass(frozen=True)
class RunSpec:
    service: str
    method: str = "qr"
    action: str = "nothing"
    step: str = ""  # the screen the action happens on
    faults: tuple[Fault, ...] = ()
    kill: str = ""  # "POINT[:N]": SIGKILL after that journal write
    notify: str = ""  # "", "duplicate" or "late": how the gateway's notifications arrive
    copies: str = "1"  # credit report copies
    short_paper: bool = False  # credit report: paper for one copy only
    name: str = ""

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> RunSpec:
        faults = tuple(Fault(**f) for f in data.pop("faults", ()))
        return cls(faults=faults, **data)

    def label(self) -> str:
        if self.name:
            return self.name
        parts = [self.service, self.method, f"{self.action}@{self.step}" if self.step else
                 self.action]
        parts += [f"{f.kind}:{f.route}{f'+{f.skip}' if f.skip else ''}x{f.times}"
                  for f in self.faults]
        if self.service == "credit_report":
            parts.append(f"copies:{self.copies}{'-short-paper' if self.short_paper else ''}")
        if self.notify:
            parts.append(f"notify:{self.notify}")
        return "/".join(parts + ([f"kill:{self.kill}"] if self.kill else []))


# -- the named regression sequences of issue 10, as runs ---------------------------------------

SEQUENCES = (
    RunSpec("bill", "code", faults=(Fault("POST /pay/v1/micropay", "lost_after", times=99),),
            name="sequence_1_micropay_taken_every_reply_lost"),
    RunSpec("bill", "code_confirm", "cancel", "pay", name="sequence_2_cancel_while_phone_confirms"),
    RunSpec("bill", "code_confirm", "walk_away", "pay",
            name="sequence_2_walk_away_while_phone_confirms"),
)


def fast_slice() -> list[RunSpec]:
    """The default run's slice: each fault kind, each citizen action, a few power cuts, every
    service, the named sequences. Mostly bill payments: they are the fastest."""
    runs = list(SEQUENCES)
    targets = ("POST /pay/v1/orders", "POST /utility/v1/payments", "GET /pay/v1/orders/{out_trade_no}",
               "POST /pay/v1/refunds", "POST /pay/v1/micropay", "POST /utility/v1/payments")
    for kind, route in zip(FAULT_KINDS, targets, strict=True):
        method = "code" if "micropay" in route else "qr"
        extra = (Fault("POST /utility/v1/payments", "error", times=3),) \
            if "refunds" in route else ()
        runs.append(RunSpec("bill", method, faults=(Fault(route, kind, times=3), *extra)))
    runs += [RunSpec("bill", "qr", "cancel", "confirm"), RunSpec("bill", "qr", "cancel", "pay"),
             RunSpec("bill", "qr", "walk_away", "enter_account"),
             RunSpec("bill", "qr", "walk_away", "pay"),
             RunSpec("bill", "qr", "cancel", "processing"),
             RunSpec("bill", "qr", notify="duplicate"), RunSpec("bill", "code", notify="late")]
    runs += [RunSpec("bill", "qr", kill=point) for point in
             ("payment_pending", "paid", "submitted", "fulfilled")]
    runs += [RunSpec("bill", "code", kill="order"),
             RunSpec("bill", "qr", faults=(Fault("POST /utility/v1/payments", "error", times=3),),
                     kill="refund")]
    runs += [RunSpec("endorsement", "qr"),
             RunSpec("endorsement", "qr", "card_pulled", "place_permit"),
             RunSpec("endorsement", "qr", faults=(
                 Fault("POST /exit-entry/v1/applications", "lost_after", times=3),)),
             RunSpec("credit_report", "qr", copies="2", short_paper=True),
             RunSpec("credit_report", "qr", "card_pulled", "read_idcard"),
             RunSpec("credit_report", "qr", copies="2", kill="fulfilled")]
    return runs


# -- the systematic space -----------------------------------------------------------------------

def methods_for(service: str) -> tuple[str, ...]:
    return METHODS if service == "bill" else ("qr", "code")


Called = dict[tuple[str, str], set[str]]  # (service, method) -> the routes its run calls


def single_faults(service: str, called: Called | None = None) -> list[RunSpec]:
    """Every fault kind on every call of the transaction (its first one, its whole retry series,
    every one of them), the citizen doing nothing unusual. With `called` (what an ordinary run
    of each payment method calls), only those calls: a fault on a call never made proves
    nothing; the calls only a fault leads to (refunds, reversals) come in the combinations."""
    runs = []
    for method in methods_for(service):
        for route in routes_of(service):
            if "micropay" in route and method == "qr":
                continue
            if called is not None and route not in called.get((service, method), set()):
                continue
            for kind in FAULT_KINDS:
                for times in (1, 3, 99):
                    runs.append(RunSpec(service, method, faults=(Fault(route, kind,
                                                                       times=times),)))
    return runs


def citizen_actions(service: str) -> list[RunSpec]:
    """Every citizen action at every step, every payment method."""
    runs = []
    for method in methods_for(service):
        for action in ACTIONS[1:]:
            for step in STEPS[service]:
                if action == "card_pulled" and (service == "bill" or step not in CARD_STEPS):
                    continue
                runs.append(RunSpec(service, method, action, step))
    return runs


def power_cuts(service: str) -> list[RunSpec]:
    """A power cut after every journal write of every payment method's ordinary run."""
    return [RunSpec(service, method, kill=point) for method in methods_for(service)
            for point in KILL_POINTS]


def power_cuts_after_faults(service: str) -> list[RunSpec]:
    """A power cut at each journal write of the endings a fault leads to (a refund after a
    refused submission, a micropay asked about after its answer was lost)."""
    submit = next(r for r in SERVICE_ROUTES[service] if r.startswith("POST") and "option" not in
                  r and "permit-keys" not in r)
    endings = (RunSpec(service, "qr", faults=(Fault(submit, "error", times=3),)),
               RunSpec(service, "code", faults=(Fault("POST /pay/v1/micropay", "lost_after",
                                                      times=99),)))
    return [RunSpec(e.service, e.method, faults=e.faults, kill=point)
            for e in endings for point in KILL_POINTS]


def systematic(called: Called | None = None) -> list[RunSpec]:
    runs: list[RunSpec] = []
    for service in SERVICES:
        runs += (single_faults(service, called) + citizen_actions(service) +
                 power_cuts(service) + power_cuts_after_faults(service))
    return runs


def baselines() -> list[RunSpec]:
    """One ordinary run per service and payment method: which calls they make."""
    return [RunSpec(service, method) for service in SERVICES for method in methods_for(service)]


# -- the sampled space --------------------------------------------------------------------------

@st.composite
def run_specs(draw: st.DrawFn, services: tuple[str, ...] = SERVICES) -> RunSpec:
    """Combinations: up to two faults, an action at a step, a power cut, notifications."""
    service = draw(st.sampled_from(services + tuple(s for s in services if s == "bill")))
    method = draw(st.sampled_from(methods_for(service)))
    action = draw(st.sampled_from([a for a in ACTIONS if a != "card_pulled" or service != "bill"]))
    steps = [s for s in STEPS[service] if action != "card_pulled" or s in CARD_STEPS]
    step = draw(st.sampled_from(steps)) if action != "nothing" else ""
    faults = draw(st.lists(st.builds(
        Fault, st.sampled_from(routes_of(service)), st.sampled_from(FAULT_KINDS),
        st.sampled_from((0, 1)), st.sampled_from((1, 3, 99))), max_size=2))
    kill = draw(st.one_of(st.sampled_from(COMMON_KILLS), st.sampled_from(("",) + KILL_POINTS)))
    return RunSpec(service, method, action, step, tuple(faults), kill,
                   draw(st.sampled_from(("", "", "duplicate", "late"))),
                   draw(st.sampled_from(("1", "2"))), draw(st.booleans()))


@dataclass
class Totals:
    """What `bench.money` prints."""

    runs: int = 0
    kills: int = 0
    faults: int = 0
    violations: int = 0
    lost_fen: int = 0
    double_fen: int = 0
    unreconciled: int = 0
    attention: int = 0
    failures: list[dict] = field(default_factory=list)
    endings: Counter = field(default_factory=Counter)  # final state (or "none") -> runs

    def add(self, result: dict) -> None:
        self.runs += 1
        self.endings.update(result["states"] or ["none"])
        self.kills += bool(result["killed"])
        self.faults += result["faults_hit"]
        self.violations += len(result["violations"])
        self.lost_fen += result["lost_fen"]
        self.double_fen += result["double_fen"]
        self.unreconciled += result["unreconciled"]
        self.attention += result["attention"]
        if result["violations"]:
            self.failures.append(result)

    def figures(self) -> dict:
        return {"runs": self.runs, "kills": self.kills, "faults": self.faults,
                "violations": self.violations, "lost_fen": self.lost_fen,
                "double_fen": self.double_fen, "unreconciled": self.unreconciled}
