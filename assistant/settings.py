"""The one configuration object of the project (pydantic-settings, env prefix ``SHEQU_``).

Components never read the environment themselves: they receive the values they need from a
``Settings`` instance, so tests can build any configuration without touching ``os.environ``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VAR_DIR = PROJECT_ROOT / "var"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHEQU_", env_file=".env", extra="ignore")

    # --- storage ---
    var_dir: Path = DEFAULT_VAR_DIR
    database_url: str = ""  # empty: SQLite file under var_dir
    db_echo: bool = False
    # A database that refuses or hangs must cost a request seconds, not minutes (503 instead of a hang).
    db_connect_timeout_seconds: float = 3.0
    db_statement_timeout_seconds: float = 10.0  # PostgreSQL statement_timeout; SQLite busy_timeout
    db_pool_timeout_seconds: float = 5.0  # wait for a free pooled connection
    db_retry_after_seconds: int = 10  # Retry-After sent with a 503 while the database is away

    # --- knowledge base ---
    kb_data_dir: Path = PROJECT_ROOT / "knowledge_base" / "data"
    community_profile: Path | None = None  # staff-filled profile; default is the shipped example
    # `make run` sets this: with no community_profile, use the clearly marked demonstration profile
    demo_profile: bool = False
    index_dir: Path | None = None  # default var_dir / "index"
    # How often a worker asks the database for a newer KB revision (a publish on any node), in the background
    # and before a turn: one tiny query; the publish then reaches every node within this plus the build time.
    kb_check_seconds: float = 0.5

    # --- retrieval ---
    tokenizer: str = "jieba"
    encoder: str = "static-trained"  # or "sentence-transformers" with encoder_model_path
    encoder_model_path: str = ""
    retriever: str = "hybrid"
    answer_threshold: float = 0.4
    clarify_threshold: float = 0.2
    clarify_margin: float = 0.05
    # A pretrained encoder asked when the fast signals are unsure (knowledge_base/retrieval/pretrained.py);
    # "" switches it off (large benchmark indexes, a machine without the package).
    pretrained_encoder: str = "e5-small"
    pretrained_below: float = 0.7
    pretrained_cache: Path | None = None  # its document vectors, kept by text across builds; default beside the index

    # --- dialogue policy (assistant/dialogue/policy.py PolicyThresholds; answer/clarify are above) ---
    policy_low_confidence_margin: float = 0.1
    policy_intent_override: float = 0.75
    policy_out_of_scope_override: float = 0.97
    policy_in_scope_margin: float = 0.03
    policy_emergency_intent: float = 0.6
    policy_emergency_model: float = 0.3
    policy_emergency_model_suicide: float = 0.25
    policy_emergency_model_asking: float = 0.85
    policy_emergency_kind: float = 0.2
    policy_emergency_agreeing: float = 0.2
    policy_emergency_encoder_margin: float = 0.015
    policy_emergency_encoder_margin_unplaced: float = 0.025
    policy_aspect_followup: float = 0.45
    policy_aspect_certain: float = 0.95
    policy_aspect_new_topic: float = 0.7
    policy_new_topic: float = 0.5
    policy_new_topic_with_aspect: float = 0.7
    policy_new_topic_certain: float = 0.95
    policy_aspect_second_choice: float = 0.2
    policy_weak_command_intent: float = 0.75
    policy_two_topics: float = 0.45
    policy_agreeing_readings: float = 0.25
    policy_dominant_floor: float = 0.2
    policy_dominant_ratio: float = 4.0
    policy_surely_in_scope: float = 0.1
    policy_confident_topic: float = 0.7
    policy_out_of_scope_doubt: float = 0.2
    policy_out_of_scope_over_broad: float = 0.5
    policy_two_topics_lead: float = 2.0
    policy_broad_max_options: int = 6
    policy_switch_kin: float = 0.02

    # --- intents ---
    intent_classifier: str = "sklearn"
    intent_confidence_threshold: float = 0.45
    intent_ambiguity_threshold: float = 0.08
    rasa_url: str = ""

    # --- handoff ---
    office_hours: str = "08:00-18:00"  # HH:MM-HH:MM, China time
    office_weekends: bool = True  # Guangxi community centres often open on Saturdays; staff set this
    handoff_claim_timeout_seconds: int = 180  # queued this long with nobody claiming → leave a message instead
    # --- alerts and server push (assistant/handoff/alerts.py, assistant/events) ---
    events_url: str = "db:"  # memory: (one process) | db: (shared database) | redis://host:port/0
    alert_escalation_seconds: int = 120  # unacknowledged this long → administrators and the department are told

    # --- work orders (assistant/handoff): routing, deadlines, delivery to department systems ---
    orders_config: Path | None = None  # YAML: routing, deadlines, holidays; default assistant/handoff/orders.yaml
    orders_near_due_hours: int = 24
    ticket_sink: str = "none"  # none (orders stay in the console) | webhook | memory (tests)
    ticket_webhook_url: str = ""
    ticket_webhook_secret: str = ""  # HMAC-SHA256 key the receiver verifies
    ticket_webhook_timeout_seconds: float = 10.0
    outbox_max_attempts: int = 20  # then the message is parked as failed (kept, can be requeued)
    outbox_backoff_seconds: float = 30.0  # first retry delay; doubles up to the maximum
    outbox_backoff_max_seconds: float = 3600.0
    outbox_drain_interval_seconds: float = 15.0  # the server's background drain; 0 disables it

    # --- WeChat Official Account and WeCom callbacks (assistant/channels); empty token = channel off ---
    wechat_token: SecretStr = SecretStr("")
    wechat_aes_key: SecretStr = SecretStr("")  # EncodingAESKey (43 chars), needed for safe mode
    wechat_app_id: str = ""
    wechat_app_secret: SecretStr = SecretStr("")  # for the customer-service message API (late answers)
    # 公众号模板消息 for warnings to subscribers outside the 48-hour customer-service window (issue 17); its
    # template must have the fields keyword1..keyword4. Empty: those subscribers are not sent the warning.
    wechat_warning_template_id: str = ""
    wechat_api_base: str = "https://api.weixin.qq.com"
    wecom_token: SecretStr = SecretStr("")
    wecom_aes_key: SecretStr = SecretStr("")
    wecom_corp_id: str = ""
    wecom_agent_id: str = ""
    wecom_secret: SecretStr = SecretStr("")  # the application's Secret, for message/send
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    channel_reply_budget_seconds: float = 4.0  # WeChat waits 5 s; later answers go through the API
    # A callback whose timestamp is further than this from our clock is refused, and a nonce seen within it too.
    channel_callback_window_seconds: int = 300

    # --- security / personal data ---
    secret_key: str = Field(default="", description="signs sessions; generated into var_dir when empty")
    encryption_key: str = Field(default="", description="Fernet key for personal data at rest")
    # Wrong work-order look-ups (number + last four phone digits) allowed per address in the window: enough for
    # typos, far too few to try the 10,000 possible endings of a day's numbers.
    order_lookup_max_failures: int = 10
    order_lookup_window_seconds: int = 900
    # The address residents reach the server at (https://…), for the status link in a receipt's QR code;
    # empty: receipts carry no link.
    public_base_url: str = ""
    retention_days_conversations: int = 180
    retention_days_tickets: int = 730
    # The daily purge of what is older than these (assistant/privacy/retention.py), run by the server's background
    # worker at this hour China time or first after it; `shequ privacy purge` runs it by hand.
    retention_purge_enabled: bool = True
    retention_purge_hour: int = Field(default=3, ge=0, le=23)

    # --- staff console (assistant/auth, assistant/console) ---
    staff_cookie_secure: bool = True  # set false only for plain-HTTP test installs
    staff_session_hours: float = 8.0
    staff_lockout_failures: int = 5
    staff_lockout_minutes: float = 15.0
    staff_login_rate_per_minute: int = 10
    staff_login_account_rate_per_minute: int = 10  # per username, all workers and addresses together
    # Where the sign-in and look-up limits are counted: empty (or db:) the database, redis://host:port/db Redis.
    rate_limit_url: str = ""
    staff_upload_max_bytes: int = 10 * 1024 * 1024
    # Roles that must use a TOTP second factor (e.g. "admin"; comma-separated): such accounts without one are
    # sent to set it up right after the password, before any other page. Empty: TOTP stays optional.
    staff_totp_required_roles: str = ""

    # --- speech input (issue 14: `shequ asr install|check`, POST /api/v1/asr, the kiosk's 按住说话) ---
    asr_engine: str = "faster-whisper"  # faster-whisper | fake | off
    asr_model_dir: Path | None = None  # the CTranslate2 checkpoint; default var_dir/models/whisper-base
    asr_language: str = "zh"  # zh (普通话) | yue (粤语): the default; the kiosk and the API can switch
    asr_prompt: bool = True  # bias recognition with the knowledge base's words
    asr_threads: int = 2
    asr_max_seconds: float = 15.0
    asr_rate_per_minute: int = 12  # recognitions per chat session (or per address without one)
    asr_warm_up: bool = True  # load the model in the background when the server starts
    # Keep residents' recordings (encrypted, purged with their conversation)? Off: audio lives only in memory.
    asr_keep_audio: bool = False

    # --- kiosk (kiosk_app, `shequ kiosk`) ---
    kiosk_assistant_url: str = ""  # empty: the assistant runs inside the kiosk; else e.g. http://10.0.0.5:8000
    kiosk_assistant_timeout_seconds: float = 8.0
    kiosk_printer: str = ""  # receipt printer URI (dummy:, file:…, tcp://…, serial:…, usb:VID:PID); empty = none
    kiosk_printer_paper: int = 58  # mm: 58 or 80
    kiosk_idcard_reader: str = "sam-serial"
    kiosk_idcard_port: str = ""  # serial port of the ID-card reader (/dev/idcard); empty = no reader
    kiosk_idcard_baud: int = 115200
    kiosk_idle_seconds: int = 90  # untouched this long → the idle warning
    kiosk_idle_warning_seconds: int = 30  # the spoken countdown before everything is cleared (≥ 20)
    kiosk_tts: str = "pyttsx3"  # pyttsx3 | espeak | silent | fake
    kiosk_voice: str = "sit/cmn-latn-pinyin"  # or sit/yue (Cantonese)
    kiosk_audio_device: str = ""  # ALSA device for aplay -D; empty = default
    kiosk_asr_language: str = "zh"  # 按住说话 starts in zh (普通话) or yue (粤语); residents switch on the home screen
    # The microphone: empty = the default input, "off", a PortAudio device index or name, or file:/path.wav (tests)
    kiosk_microphone: str = ""
    kiosk_theme: str = "normal"  # normal | high_contrast
    kiosk_larger_text: bool = False
    kiosk_fullscreen: bool = False  # kiosk mode: fullscreen, no cursor, Escape does not exit
    kiosk_touch_input: str = "mouse"  # the one input provider: mouse | mtdev | hidinput
    kiosk_window_size: str = "1920x1080"  # when not fullscreen
    kiosk_home_categories: str = "yanglao,shebao,yibao,weijian"  # up to 4 tiles (+ 常见问题, 更多服务)
    kiosk_font_path: str = ""  # empty: WenQuanYi Micro Hei from fonts-wqy-microhei

    # --- server ---
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # Reverse proxies (IPs or networks, comma-separated) whose X-Forwarded-For is believed; empty: none.
    trusted_proxies: str = ""
    log_level: str = "INFO"
    # /docs, /redoc and /openapi.json: handy in development; set SHEQU_API_DOCS=false in production.
    api_docs: bool = True
    max_text_length: int = 500

    # --- production profile --- (several nodes behind nginx: deploy/, docs/deploy.md)
    # False: the web nodes leave the outbox drain, handoff sweep, alert escalation and retention purge to one
    # separate `shequ worker` process (SHEQU_BACKGROUND_WORKER=false on every web node).
    background_worker: bool = True
    # Who may read /metrics (IPs or networks, comma-separated); anyone else gets 403. Default: this machine
    # and private networks, where the Prometheus server of a city's data centre sits.
    metrics_allowed_ips: str = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
    # How long a scrape waits for the database counts (outbox depth, handoffs waiting) before leaving them out.
    metrics_db_timeout_seconds: float = 1.0

    # --- kiosk fleet --- (issue 15: assistant/kiosks, `shequ kiosks register|list`, /staff/kiosks)
    # On the kiosk: its device token (from `shequ kiosks register`; empty: no heartbeat) and how often it reports
    # to SHEQU_KIOSK_ASSISTANT_URL. On the server: silent this long → offline, an alert to its community's staff.
    kiosk_token: str = ""
    kiosk_heartbeat_seconds: float = 60.0
    kiosk_offline_minutes: float = 5.0
    kiosk_api_rate_per_minute: int = 30  # heartbeats and config pulls per kiosk token

    # --- communities on channels --- (issue 15) The community code a WeChat official account / WeCom
    # application serves (`shequ communities list`): its residents' new conversations belong to it.
    # Empty: the default community. An unknown code is logged and the default community used instead.
    wechat_community: str = ""
    wecom_community: str = ""

    # --- notices and warnings (issue 17) --- (assistant/bulletins)
    # Lowest warning level (blue | yellow | orange | red) that gets the full-width banner, speech and a staff
    # alert; lower ones are still listed. Default blue: every level is shown.
    warning_min_level: str = "blue"
    warning_repeat_seconds: int = 600  # a banner warning is spoken again this often while it is valid
    bulletin_poll_seconds: float = 2.0  # how often kiosks and the web chat ask for the board (≤ 10 s to show)
    warning_feed_url: str = ""  # a CAP feed polled by `shequ worker`; empty: no polling
    warning_feed_poll_seconds: float = 5.0
    warning_push_secret: SecretStr = SecretStr("")  # signs pushed CAP documents; empty: push endpoint off

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'shequ.db').as_posix()}"

    def resolved_index_dir(self) -> Path:
        return self.index_dir or (self.var_dir / "index")

    def pretrained_cache_file(self) -> Path:
        """Document vectors of the pretrained encoder, kept by text across index builds (beside the indexes)."""
        index_dir = self.resolved_index_dir()
        return self.pretrained_cache or index_dir.with_name(index_dir.name + "-pretrained.npz")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
