"""The one configuration object of the project (pydantic-settings, env prefix ``SHEQU_``).

Components never read the environment themselves: they receive the values they need from a
``Settings`` instance, so tests can build any configuration without touching ``os.environ``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHEQU_", env_file=".env", extra="ignore")

    # --- storage ---
    var_dir: Path = DEFAULT_VAR_DIR
    database_url: str = ""  # empty: SQLite file under var_dir
    db_echo: bool = False

    # --- knowledge base ---
    kb_data_dir: Path = PROJECT_ROOT / "knowledge_base" / "data"
    community_profile: Path | None = None  # staff-filled profile; default is the shipped example
    index_dir: Path | None = None  # default var_dir / "index"

    # --- retrieval ---
    tokenizer: str = "jieba"
    encoder: str = "static-trained"  # or "sentence-transformers" with encoder_model_path
    encoder_model_path: str = ""
    retriever: str = "hybrid"
    answer_threshold: float = 0.4
    clarify_threshold: float = 0.2
    clarify_margin: float = 0.05

    # --- intents ---
    intent_classifier: str = "sklearn"
    intent_confidence_threshold: float = 0.45
    intent_ambiguity_threshold: float = 0.08
    rasa_url: str = ""

    # --- handoff ---
    office_hours: str = "08:00-18:00"  # HH:MM-HH:MM, China time
    office_weekends: bool = True  # Guangxi community centres often open on Saturdays; staff set this

    # --- security / personal data ---
    secret_key: str = Field(default="", description="signs sessions; generated into var_dir when empty")
    encryption_key: str = Field(default="", description="Fernet key for personal data at rest")
    retention_days_conversations: int = 180
    retention_days_tickets: int = 730

    # --- server ---
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "INFO"
    max_text_length: int = 500

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'shequ.db').as_posix()}"

    def resolved_index_dir(self) -> Path:
        return self.index_dir or (self.var_dir / "index")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
