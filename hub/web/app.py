"""The workbench application: :class:`Workbench` holds what routes share, :func:`create_app` wires it.

    app = create_app(Workbench(db="hub.sqlite3", broker=BrokerOptions(host="127.0.0.1", port=1883)))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from hub.store import HubStore
from hub.web.audit import ACTION_WORDS as AUDIT_WORDS
from hub.web.routes import ROUTES
from hub.web.view import FILTERS, KIND_WORDS
from hub.web.work import ACTION_WORDS
from kiosk.health import category_title
from kiosk.timebank.kinds import RATINGS
from kiosk.version import describe

HERE = Path(__file__).parent


@dataclass
class BrokerOptions:
    """Where documents are published (the same options as ``yizhan hub publish``)."""

    host: str = "127.0.0.1"
    port: int = 1883
    base_topic: str = "yizhan/v1"
    tls: bool = False
    ca_file: str = ""
    username: str = ""
    password: str = ""


@dataclass
class Workbench:
    """Shared state of the workbench.

    Args:
        db: the hub database (same as ``yizhan hub run --db``).
        broker: for publishing documents.
        issuer: 出具单位 printed on certificates.
        tz: the district's time zone (months of reports).
        secure_cookies: mark cookies ``Secure`` (browsers keep them on https and on localhost).
        signing_key: the hub's document key; without it the 发布 page refuses to publish.
    """

    db: str
    broker: BrokerOptions = field(default_factory=BrokerOptions)
    issuer: str = "市民驿站"
    tz: str = "Asia/Shanghai"
    secure_cookies: bool = True
    signing_key: Ed25519PrivateKey | None = None
    store: HubStore = field(init=False)
    engine: Engine = field(init=False)
    templates: Jinja2Templates = field(init=False)

    def __post_init__(self) -> None:
        self.store = HubStore(self.db, name="web")      # migrates the schema to the newest revision when safe
        self.engine = self.store.engine
        env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
        env.filters.update(FILTERS)
        env.globals.update(category_title=category_title, action_words=ACTION_WORDS, rating_words=RATINGS,
                           kind_words=KIND_WORDS, audit_words=AUDIT_WORDS, build=describe())
        self.templates = Jinja2Templates(env=env)


def create_app(wb: Workbench) -> Starlette:
    """The ASGI application of one workbench."""
    app = Starlette(routes=[*ROUTES, Mount("/static", StaticFiles(directory=HERE / "static"), name="static")])
    app.state.wb = wb
    return app
