"""The synthetic question log of the FAQ benchmark: helpdesk paraphrase groups of known size, near-misses
and one-off noise, in Japanese and English, with the askers who asked them.

Every question carries its true label (a topic key, a near-miss key or a unique noise key), its
language (``ja``, ``en``; Japanese sentences with English words count as ``ja``) and its kind, so
the benchmark can score the mined groups. The log is a pure function of (size, seed).

* Topics: ~60 questions people ask an IT/HR helpdesk. A topic is asked in Japanese, in English,
  or in both (then about two thirds Japanese). A question is a generic frame around one of the
  topic's stems (polite/plain endings, 教えて/知りたい/どうすれば, prefixes), or one of its whole
  questions, then perturbed: particles dropped, a character lost, full-width letters, English in
  lower case with a swapped pair of letters.
* Sizes: ``800 * exp(-rank / 8)`` scaled to the budget, at least 2: a few topics asked hundreds of
  times, many asked a handful of times. Askers are drawn with replacement from ~800 people, except
  for a few topics asked many times by one or two people (the distinct-askers rule must drop them).
* Near-misses: small groups that share a topic's words but ask something else
  (``VPNの申請方法`` next to ``VPNが繋がらない``), each with its parent topic.
* Noise (the rest, ~25%): one-off questions on unrelated things, a (subject, aspect) pair used at
  most twice (the second time with a date), so some noise shares a subject but not the question.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["NEAR_MISSES", "PEOPLE", "TOPICS", "Question", "QuestionLog", "Topic", "make_log"]

PEOPLE = 800
NOISE_SHARE = 0.25
_TOP_SIZE_AT_10K = 800
_DECAY = 8.0


@dataclass(frozen=True)
class Topic:
    """One true question: its canonical phrasing and the stems its paraphrases are built from.

    ``kind`` chooses the generic frames: ``info`` (a noun phrase: 〜を教えて, what's 〜?),
    ``trouble`` (a plain-form complaint: 〜ない。どうすれば？, 〜, what should I do?) or ``howto``
    (a する-verb stem: 〜したい, 〜する方法; how do I 〜?). ``askers`` > 0: only that many people
    ever ask it. ``parent``: the topic a near-miss borrows its words from.
    """

    key: str
    kind: str
    lang: str
    canonical: str
    ja: tuple[str, ...]
    en: tuple[str, ...]
    ja_full: tuple[str, ...] = ()
    en_full: tuple[str, ...] = ()
    askers: int = 0
    parent: str | None = None
    size: int = 0  # near-misses only: how many times asked (at any log size)


@dataclass(frozen=True)
class Question:
    """One asked question with its ground truth."""

    text: str
    asker: str
    label: str  # topic key, near-miss key, or "noise:<n>"
    lang: str  # "ja" or "en"
    kind: str  # "paraphrase", "near" or "noise"


@dataclass(frozen=True)
class QuestionLog:
    """The shuffled log, the topics and near-misses it was made from, and their sizes in it."""

    questions: list[Question]
    topics: dict[str, Topic]
    sizes: dict[str, int]


def _t(
    key: str,
    kind: str,
    lang: str,
    canonical: str,
    ja: str,
    en: str,
    ja_full: str = "",
    en_full: str = "",
    *,
    askers: int = 0,
    parent: str | None = None,
    size: int = 0,
) -> Topic:
    def split(s: str) -> tuple[str, ...]:
        return tuple(x.strip() for x in s.split("|") if x.strip())

    return Topic(key, kind, lang, canonical, split(ja), split(en), split(ja_full), split(en_full), askers, parent, size)


# fmt: off
# Most asked first: the order is the size rank.
TOPICS: tuple[Topic, ...] = (
    _t("expense_deadline", "info", "both", "経費精算の締め日はいつですか？",
       "経費精算の締め日|経費精算の締切|経費申請の締め日|今月の経費精算の期限|交通費精算の締め日|経費の提出期限",
       "the expense report deadline|the deadline for expense claims|the cutoff date for expenses this month",
       "経費精算は何日までに出せばいい？|経費っていつまでに申請すればいいですか|精算の締め日って毎月何日？|"
       "経費精算の締めはいつ？|expense reportの締め日はいつ？|経費の締めっていつ",
       "when is the expense report deadline?|by what date do I have to submit my expenses?|"
       "when do expense claims close each month?",
    ),
    _t("vpn_connect", "trouble", "both", "VPNに接続できません",
       "VPNが繋がらない|VPNに接続できない|VPNにつながらない|社内VPNに入れない|自宅からVPNに繋がらない|"
       "VPNがconnectできない|VPN接続がエラーになる",
       "I can't connect to the VPN|the VPN won't connect|my VPN connection fails|I cannot get on the VPN from home",
       "VPNにログインできません|VPNのエラーで社内システムに入れません",
       "VPN not connecting|can't get VPN to work",
    ),
    _t("password_reset", "howto", "both", "パスワードをリセットしたい",
       "パスワードをリセット|パスワードを再設定|PCのパスワードを初期化|ログインパスワードをリセット|"
       "passwordをリセット",
       "reset my password|reset my login password|recover my forgotten password",
       "パスワードを忘れました|パスワード忘れたのでログインできない|パスワードが分からなくなった、どうすれば？",
       "I forgot my password|forgot password, can't log in",
    ),
    _t("paid_leave_days", "info", "ja", "有給休暇は年に何日ありますか？",
       "有給休暇の日数|年休の付与日数|有給の日数|年次有給休暇の日数",
       "the number of paid leave days|my annual leave entitlement",
       "有給って年何日？|有給休暇は何日取れますか|年次有給休暇の付与日数は？|有給は1年で何日もらえる？",
       "how many days of paid leave do I get per year?",
    ),
    _t("printer", "trouble", "ja", "プリンターで印刷できません",
       "プリンターで印刷できない|印刷ができない|複合機から印刷できない|プリンタが反応しない|"
       "印刷ジョブが止まったまま動かない",
       "I can't print|the printer doesn't print|printing fails on the office printer",
       "プリンターが動きません|印刷ボタンを押しても出てこない",
    ),
    _t("remote_work_apply", "howto", "ja", "在宅勤務を申請したい",
       "在宅勤務を申請|テレワークを申請|リモートワークを申請|在宅勤務の届け出",
       "apply for remote work|request to work from home",
       "在宅勤務の申請方法は？|テレワークの申請はどこから？|リモートワークしたいのですが申請は必要ですか",
    ),
    _t("wifi", "trouble", "both", "社内Wi-Fiに繋がりません",
       "社内Wi-Fiに繋がらない|会社のWiFiに接続できない|無線LANがつながらない|オフィスのwifiが使えない",
       "I can't connect to the office Wi-Fi|the office wifi doesn't work|"
       "my laptop won't join the corporate wireless network",
       "会議室でWi-Fiが使えません",
       "office wifi is down?",
    ),
    _t("payslip", "info", "ja", "給与明細はどこで見られますか？",
       "給与明細の確認方法|給与明細の見方|給料明細の場所|給与明細のダウンロード方法",
       "where to find my payslip|how to view my pay stub",
       "給与明細はどこで見れる？|給与明細ってどこから見るの|今月の給与明細が見たい",
    ),
    _t("outlook_start", "trouble", "ja", "Outlookが起動しません",
       "Outlookが起動しない|Outlookが開かない|メールソフトが立ち上がらない|Outlookが起動中に固まる",
       "Outlook won't start|Outlook doesn't open|Outlook freezes on startup",
    ),
    _t("new_pc", "howto", "both", "新しいPCを申請したい",
       "PCの交換を申請|新しいパソコンを申請|PCの入れ替えを依頼|ノートPCの買い替えを申請",
       "request a new laptop|get my PC replaced|order a replacement computer",
       "PCが古いので交換してほしい|パソコンの買い替えはどう申請する？",
    ),
    _t("commute_allowance", "howto", "ja", "通勤手当を申請したい",
       "通勤手当を申請|通勤交通費を申請|定期代を申請|通勤手当の変更を申請",
       "apply for the commuting allowance|claim my commuter pass",
       "引っ越したので通勤手当を変えたい|定期代の精算はどうすればいい",
    ),
    _t("teams_mic", "trouble", "both", "Teamsでマイクが使えません",
       "Teamsでマイクが使えない|Teams会議で自分の声が相手に聞こえない|Teamsがマイクを認識しない|"
       "Teamsのマイクが反応しない",
       "my mic doesn't work in Teams|people can't hear me in Teams meetings|Teams doesn't detect my microphone",
    ),
    _t("year_end_tax", "info", "ja", "年末調整の書類の提出期限はいつですか？",
       "年末調整の提出期限|年末調整の締め切り|年末調整の書類の期限|年調の締切",
       "the deadline for the year-end tax adjustment",
       "年末調整っていつまでに出せばいい？|年末調整の書類はいつまで？",
    ),
    _t("mfa_reset", "howto", "both", "多要素認証を再設定したい",
       "多要素認証を再設定|MFAを再登録|二段階認証を再設定|Authenticatorを再設定",
       "reset MFA on my new phone|re-register the authenticator app|set up two-factor authentication again",
       "スマホを機種変したので認証アプリが使えない|機種変更したら二段階認証が通らない",
       "I got a new phone and my authenticator doesn't work",
    ),
    _t("folder_access", "howto", "ja", "共有フォルダのアクセス権を申請したい",
       "共有フォルダのアクセス権を申請|ファイルサーバーの権限を依頼|共有ドライブへのアクセスを申請|"
       "フォルダの閲覧権限を申請",
       "request access to a shared folder|get permission for the file server",
    ),
    _t("sick_leave", "info", "en", "What is the sick leave policy?",
       "病気休暇の規定|病欠のルール",
       "the sick leave policy|the rules for sick days|the sick day policy",
       "体調不良で休む場合はどうすればいい？",
       "what do I do if I'm sick and can't come in?|how does sick leave work here?",
    ),
    _t("software_install", "howto", "both", "ソフトウェアをインストールしたい",
       "ソフトをインストール|アプリのインストールを申請|ソフトウェアの導入を申請|PCにツールをインストール",
       "install software on my laptop|get an app installed|request a software installation",
    ),
    _t("health_checkup", "info", "ja", "健康診断の日程を教えてください",
       "健康診断の日程|定期健康診断の日程|健診の受診期間|今年の健康診断の日",
       "the schedule for the health checkup|the date of the annual medical checkup",
       "健康診断っていつ？|今年の健診はいつ頃ですか",
    ),
    _t("trip_apply", "howto", "ja", "出張を申請したい",
       "出張を申請|出張申請|国内出張の申請|出張の事前申請",
       "apply for a business trip|submit a travel request",
       "出張に行くときの申請方法は？",
    ),
    _t("visa_letter", "howto", "en", "How do I get a visa support letter?",
       "ビザのサポートレターを依頼|在職証明書（英文）を依頼",
       "get a visa support letter|request an employment letter for my visa|obtain an invitation letter for a visa",
       "",
       "I need a letter from the company for my visa renewal",
    ),
    _t("parental_leave", "info", "both", "育児休業の取得条件を教えてください",
       "育児休業の取得条件|育休の取り方|育児休業の期間|男性の育休制度",
       "the parental leave policy|the conditions for childcare leave",
       "育休ってどれくらい取れる？|育児休業は何か月取れますか",
       "how long can I take parental leave?",
    ),
    _t("teams_recording", "info", "ja", "Teams会議の録画はどこに保存されますか？",
       "Teams会議の録画の保存場所|会議の録画ファイルの場所|Teams録画の保存先",
       "where Teams meeting recordings are saved",
       "Teamsで録画したデータはどこ？|会議の録画はどこに残るの？",
    ),
    _t("my_resident_tax", "info", "ja", "私の給与明細の住民税の金額が先月と違う理由は？",
       "私の住民税の金額が変わった理由|自分の給与明細の住民税の差額|今月の私の住民税控除額",
       "why my resident tax deduction changed",
       "私の住民税、先月より高いのはなぜ？|自分の住民税の控除がおかしい気がする",
       askers=2,
    ),
    _t("meeting_room", "howto", "ja", "会議室を予約したい",
       "会議室を予約|会議室の予約|打ち合わせスペースを予約|大会議室を予約",
       "book a meeting room|reserve a conference room",
       "会議室ってどこから押さえるの？",
    ),
    _t("excel_slow", "trouble", "en", "Excel is very slow",
       "Excelが重い|エクセルの動作が遅い",
       "Excel is very slow|Excel keeps freezing on big files|my spreadsheets take forever to open",
    ),
    _t("address_change", "howto", "ja", "住所変更を届け出たい",
       "住所変更を届け出|引っ越しの届け出|住所変更の手続き|現住所を変更",
       "report my change of address|update my home address",
       "引っ越しをしたら何を提出すればいい？",
    ),
    _t("onedrive_sync", "trouble", "both", "OneDriveが同期しません",
       "OneDriveが同期しない|OneDriveの同期が止まる|ファイルがOneDriveに上がらない",
       "OneDrive isn't syncing|my files don't sync to OneDrive|OneDrive sync is stuck",
    ),
    _t("project_x_server", "trouble", "ja", "プロジェクトXの検証サーバーに入れません",
       "プロジェクトXの検証サーバーに入れない|X案件のテストサーバーにログインできない|"
       "プロジェクトX用の検証環境に繋がらない",
       "I can't log in to the Project X staging server",
       askers=1,
    ),
    _t("overtime_apply", "howto", "ja", "残業を申請したい",
       "残業を申請|時間外労働を申請|残業の事前申請|休日出勤を申請",
       "apply for overtime|get overtime approved",
    ),
    _t("english_payslip", "howto", "en", "Can I get my payslip in English?",
       "英語の給与明細を入手",
       "get my payslip in English|see an English version of my pay statement",
    ),
    _t("laptop_charger", "howto", "en", "I need a replacement laptop charger",
       "PCの充電器を交換|ACアダプターを再発行",
       "get a replacement laptop charger|replace a broken power adapter",
       "",
       "I left my charger at home, is there a spare?",
    ),
    _t("email_signature", "howto", "ja", "メールの署名を設定したい",
       "メールの署名を設定|Outlookの署名を変更|メール署名を作成",
       "set up my email signature",
    ),
    _t("bonus_date", "info", "ja", "賞与の支給日はいつですか？",
       "賞与の支給日|ボーナスの支給日|夏のボーナスの支給日",
       "the bonus payment date",
       "ボーナスっていつ出る？",
    ),
    _t("kobe_token", "trouble", "ja", "神戸拠点のワンタイムトークンが壊れました",
       "神戸拠点のトークンが壊れた|神戸のハードウェアトークンが表示されない",
       "the Kobe hardware token is broken",
       askers=2,
    ),
    _t("screen_share", "trouble", "en", "Screen sharing doesn't work in Teams",
       "Teamsで画面共有ができない",
       "I can't share my screen in Teams|screen sharing doesn't work in meetings",
    ),
    _t("id_card_lost", "howto", "ja", "社員証を紛失したので再発行したい",
       "社員証を再発行|社員証の再発行|IDカードを再発行",
       "get my ID badge reissued",
       "社員証をなくしました",
    ),
    _t("locker", "howto", "ja", "ロッカーを借りたい",
       "ロッカーを申請|ロッカーの利用を申請",
       "get a locker",
    ),
    _t("gym_benefit", "info", "en", "Is there a gym membership benefit?",
       "ジムの福利厚生",
       "the gym membership benefit|the fitness subsidy",
    ),
    _t("printer_toner", "howto", "ja", "プリンターのトナーを交換したい",
       "トナーを交換|トナーの補充|プリンターのトナーを発注",
       "replace the printer toner",
    ),
    _t("maternity_leave", "info", "ja", "産休の期間を教えてください",
       "産休の期間|産前産後休業の期間",
       "the length of maternity leave",
    ),
    _t("shift_change", "howto", "ja", "シフトを変更したい",
       "シフトを変更|勤務シフトの交代を申請",
       "change my shift",
    ),
    _t("name_change", "howto", "ja", "結婚して姓が変わったので手続きしたい",
       "旧姓の変更手続|氏名変更を届け出",
       "update my surname after marriage",
    ),
    _t("phone_lost", "trouble", "ja", "会社のスマホをなくしました",
       "会社携帯をなくした|社用スマホを紛失した",
       "I lost my company phone",
    ),
    _t("dual_monitor", "trouble", "en", "My second monitor is not detected",
       "サブモニターが映らない",
       "my second monitor is not detected|the external display stays black",
    ),
    _t("pension", "info", "ja", "企業年金の制度を教えてください",
       "企業年金の制度|確定拠出年金の仕組み",
       "the company pension plan",
    ),
    _t("badge_gate", "trouble", "ja", "入館ゲートで社員証が反応しません",
       "入館ゲートで社員証が反応しない|ゲートが開かない",
       "my badge doesn't open the gate",
    ),
    _t("calendar_share", "howto", "en", "How do I share my calendar?",
       "予定表を共有",
       "share my Outlook calendar|give someone access to my calendar",
    ),
    _t("keyboard_broken", "trouble", "ja", "キーボードが壊れました",
       "キーボードが効かない|キーが反応しない",
       "my keyboard stopped working",
    ),
    _t("reference_letter", "howto", "ja", "在職証明書を発行してほしい",
       "在職証明書を発行|在職証明を申請",
       "get a certificate of employment",
    ),
    _t("salary_account", "howto", "ja", "給与の振込口座を変更したい",
       "給与振込口座を変更|振込先口座を変更",
       "change my salary bank account",
    ),
    _t("zoom_license", "howto", "en", "How do I get a Zoom license?",
       "Zoomのライセンスを申請",
       "get a Zoom license|request a paid Zoom account",
    ),
    _t("desk_phone", "trouble", "ja", "内線電話がつながりません",
       "内線電話がつながらない|内線が鳴らない",
       "my desk phone doesn't ring",
    ),
    _t("cafeteria_card", "howto", "ja", "社食のカードをチャージしたい",
       "社食カードをチャージ|食堂カードに入金",
       "top up my cafeteria card",
    ),
    _t("usb_blocked", "trouble", "en", "My USB drive is blocked",
       "USBメモリが使えない",
       "my USB stick is blocked|I can't open files on a USB drive",
    ),
    _t("retirement_procedure", "info", "ja", "退職の手続きを教えてください",
       "退職の手続き|退職届の出し方",
       "the resignation procedure",
    ),
    _t("bike_commute", "info", "ja", "自転車通勤は認められていますか？",
       "自転車通勤のルール|自転車通勤の申請",
       "the rules for cycling to work",
    ),
    _t("printer_scan", "howto", "ja", "複合機でスキャンしてメールで送りたい",
       "複合機でスキャンしてメール送信|スキャンをメールで送信",
       "scan to email on the copier",
    ),
    _t("font_install", "howto", "en", "How do I install a font?",
       "フォントをインストール",
       "install a new font|add a font to my PC",
    ),
    _t("condolence_leave", "info", "ja", "慶弔休暇は何日ありますか？",
       "慶弔休暇の日数|忌引きの日数",
       "the days of bereavement leave",
    ),
)

# Same words, another question: each next to the topic it borrows from. Sizes at 10,000 questions.
NEAR_MISSES: tuple[Topic, ...] = (
    _t("near:vpn_apply", "howto", "ja", "VPNの利用を申請したい",
       "VPNの利用を申請|VPNアカウントを申請|VPNの使用許可を申請",
       "apply for VPN access",
       parent="vpn_connect", size=14,
    ),
    _t("near:vpn_slow", "trouble", "ja", "VPNが遅い",
       "VPNが遅い|VPN接続だと通信が重い",
       "the VPN is very slow",
       parent="vpn_connect", size=6,
    ),
    _t("near:expense_receipt", "info", "ja", "経費精算に領収書の原本は必要ですか？",
       "経費精算の領収書の原本の要否|経費申請に必要な領収書",
       "whether expense claims need the original receipt",
       "経費精算って領収書の原本いる？",
       parent="expense_deadline", size=12,
    ),
    _t("near:expense_approver", "info", "both", "経費精算の承認者は誰ですか？",
       "経費精算の承認者|経費申請の承認ルート",
       "who approves my expense report",
       parent="expense_deadline", size=5,
    ),
    _t("near:password_expiry", "info", "ja", "パスワードの有効期限は何日ですか？",
       "パスワードの有効期限|パスワードの変更周期",
       "the password expiry period",
       parent="password_reset", size=9,
    ),
    _t("near:paid_leave_carry", "info", "ja", "有給休暇は翌年に繰り越せますか？",
       "有給休暇の繰り越し|有給の繰越ルール",
       "carrying over paid leave",
       "有給って次の年に持ち越せる？",
       parent="paid_leave_days", size=8,
    ),
    _t("near:paid_leave_apply", "howto", "ja", "有給休暇を申請したい",
       "有給休暇を申請|有給の申請|年休を申請",
       "apply for paid leave",
       parent="paid_leave_days", size=11,
    ),
    _t("near:printer_add", "howto", "ja", "プリンターをPCに追加したい",
       "プリンターを追加|プリンタードライバーをインストール",
       "add a printer to my PC",
       parent="printer", size=7,
    ),
    _t("near:remote_work_rules", "info", "ja", "在宅勤務は週何日までできますか？",
       "在宅勤務の上限日数|テレワークの回数制限",
       "how many remote days per week are allowed",
       parent="remote_work_apply", size=6,
    ),
    _t("near:wifi_guest", "info", "both", "来客用Wi-Fiのパスワードを教えてください",
       "来客用Wi-Fiのパスワード|ゲストWi-Fiの接続情報",
       "the guest Wi-Fi password",
       parent="wifi", size=5,
    ),
    _t("near:payslip_error", "trouble", "ja", "給与明細の金額が間違っている",
       "給与明細の金額が間違っている|給与明細の残業代が合わない",
       "my payslip amount is wrong",
       parent="payslip", size=3,
    ),
    _t("near:outlook_archive", "howto", "ja", "Outlookのメールをアーカイブしたい",
       "Outlookのメールをアーカイブ|古いメールを保存",
       "archive my Outlook mail",
       parent="outlook_start", size=4,
    ),
    _t("near:mfa_new", "howto", "en", "How do I set up MFA for the first time?",
       "初めて多要素認証を設定",
       "set up MFA for the first time|enrol in two-factor authentication",
       parent="mfa_reset", size=4,
    ),
    _t("near:teams_camera", "trouble", "ja", "Teamsでカメラが映らない",
       "Teamsでカメラが映らない|Teams会議でビデオがオンにならない",
       "my camera doesn't work in Teams",
       parent="teams_mic", size=3,
    ),
    _t("near:sick_note", "info", "en", "Do I need a doctor's note for sick leave?",
       "病欠の診断書の要否",
       "whether I need a doctor's note for sick leave",
       parent="sick_leave", size=2,
    ),
    _t("near:trip_hotel", "info", "ja", "出張の宿泊費の上限はいくらですか？",
       "出張の宿泊費の上限|出張ホテル代の上限",
       "the hotel cap for business trips",
       parent="trip_apply", size=2,
    ),
    _t("near:health_recheck", "howto", "ja", "健康診断の再検査を受けたい",
       "健康診断の再検査を予約|再検査の受診",
       "book a follow-up after the checkup",
       parent="health_checkup", size=1,
    ),
    _t("near:new_pc_setup", "howto", "ja", "新しいPCのデータ移行をしたい",
       "新しいPCにデータを移行|PCのデータ移行",
       "move my data to the new laptop",
       parent="new_pc", size=1,
    ),
)

_JA_END = {
    "info": (
        "を教えてください", "を教えて", "が知りたいです", "を知りたい", "について教えてください",
        "はどこで確認できますか？", "ってどうなってますか", "について質問です", "を確認したいのですが",
        "を教えていただけますか", "は？", "を教えてほしい",
    ),
    "trouble": (
        "", "です", "のですが", "のですが、どうすればいいですか？", "んですけど", "。どうしたらいい？",
        "。助けてください", "。対処法を教えてください", "のですが原因は何でしょうか", "んだけど",
        "です。解決方法は？", "場合はどうすれば？",
    ),
    "howto": (
        "したい", "したいです", "する方法", "する方法を教えて", "するにはどうすればいいですか？",
        "したいのですが、手順を教えてください", "の手順は？", "ってどうやるの？", "するには？",
        "の仕方が分かりません", "したいのですがどこから？", "する手順を知りたい",
    ),
}

_JA_PRE = (
    "", "", "", "", "", "すみません、", "質問です。", "お疲れ様です。", "初歩的な質問ですが、", "あの、", "急ぎです。",
    "ちょっと聞きたいんですが、",
)

_EN_FRAME = {
    "info": (
        "what's {s}?", "can you tell me {s}?", "I need to know {s}", "where can I find {s}?", "question about {s}",
        "{s}?", "could you let me know {s}, please?", "what is {s}", "info on {s} please", "I'd like to check {s}",
    ),
    "trouble": (
        "{s}", "{s}, what should I do?", "{s}. help!", "{s} - any ideas?", "{s}, how do I fix it?",
        "{s}. is there an outage?", "help: {s}", "{s}, please help", "since this morning {s}", "{s} again",
    ),
    "howto": (
        "how do I {s}?", "how can I {s}", "I want to {s}", "what's the procedure to {s}?", "I need to {s}, how?",
        "steps to {s}?", "can you help me {s}?", "where do I go to {s}?", "is there a way to {s}?",
        "what do I need to do to {s}?",
    ),
}

_EN_PRE = (
    "", "", "", "", "hi, ", "Hi Kura, ", "quick question: ", "sorry to bother you, ", "hello - ",
)

_NOISE_JA_SUBJECTS = (
    "来週の全社会議", "大阪支店の移転", "秋の社員旅行", "新製品の発表会", "防災訓練", "取引先A社との定例", "新人歓迎会",
    "ISO監査", "株主総会", "品質改善プロジェクト", "展示会の出展", "工場見学", "オフィスの改装工事", "社内ハッカソン",
    "年度末の棚卸し", "営業部の決起会", "フットサル部の練習", "社内報の取材", "顧客満足度調査",
    "新基幹システムの説明会",
    "ボランティア清掃", "採用説明会", "インターンの受け入れ", "部長会", "予算会議", "創立記念パーティー", "技術勉強会",
    "英会話サークル", "決算説明会", "安全衛生委員会", "下期キックオフ", "物流センターの増設", "マーケ部のウェビナー",
    "福岡営業所の開所式", "商品撮影", "テレビCMの撮影", "協力会社との懇親会", "ゴルフコンペ", "献血イベント",
    "新卒研修の最終発表", "海外子会社の視察", "特許の出願", "ブランドロゴの刷新", "Webサイトのリニューアル",
    "展示会ブースの設営", "夏祭りの屋台", "避難経路の見直し", "駐輪場の増設", "植栽の手入れ", "自動販売機の入れ替え",
    "喫煙所の撤去", "屋上の開放", "社内カフェの新メニュー", "会社のノベルティ", "名刺のデザイン変更", "社長の年頭挨拶",
    "組織変更の発表", "新しい経営計画", "社内表彰式", "10周年記念誌", "地域の清掃活動", "取締役会", "顧客向けセミナー",
    "価格改定の告知", "新倉庫の内覧会", "梱包資材の発注", "サンプル品の発送", "電子契約の導入", "業界団体の会合",
    "共同研究の打ち合わせ", "現場の安全パトロール", "製造ラインの停止", "品質クレームの対応会議", "来場者アンケート",
    "役員の海外出張", "株主優待の発送", "社内SNSの開設", "部署対抗の運動会", "キャリア面談", "OB会", "産業医の面談会",
    "消防設備の点検", "エレベーターの点検", "空調の工事", "年賀状の発送", "お中元の手配", "新オフィスの内見",
    "ショールームの改装", "販売代理店の表彰", "社内コンペ", "新規事業のピッチ", "ESG報告書", "統合報告書の作成",
    "RPAの導入", "ペーパーレス化の推進", "新しい受付システム", "来客用駐車場の工事", "社員食堂の改装",
    "クラブ活動の補助",
)
#: One question's aspect, one or two wordings each ("|").
_NOISE_JA_ASPECTS = (
    "の担当者は誰ですか？|は誰が担当していますか？", "はどこでやりますか？|の会場はどこですか？",
    "は何時からですか？|の開始時間を教えて", "の費用はいくらですか？|にいくらかかりますか？",
    "の資料はどこにありますか？|のスライドを共有してもらえますか", "は中止になりましたか？|は予定通りやりますか？",
    "の参加申し込みはどこ？|に参加したいのですが締切は？", "の連絡先を教えて|の問い合わせ先は？",
    "の写真はありますか？|の写真をもらえますか", "の議事録が欲しいです|の議事録はどこに保存されていますか",
    "は延期ですか？|の日程は変わりましたか？", "に誰が参加しますか？|の参加者リストはありますか",
    "の服装は自由ですか？|にはスーツで行くべきですか", "に持っていくものはありますか？", "に車で行っても大丈夫ですか？",
    "の予算は誰が承認しますか？", "の結果はいつ分かりますか？", "はオンラインでも見られますか？", "で昼食は出ますか？",
    "の報告書の書式はありますか？",
)
_NOISE_JA_MODIFIERS = (
    "大阪支店の", "名古屋工場の", "営業部の", "開発部の", "来月の", "今年の", "去年の", "第2四半期の", "新宿オフィスの",
    "品質保証部の", "人事部主催の", "うちの課の", "A社向けの", "福岡の", "札幌営業所の", "本社7階の", "関西エリアの",
    "海外事業部の", "経理部の", "物流部の",
)
_NOISE_EN_SUBJECTS = (
    "the all-hands next week", "the Osaka office move", "the autumn company trip", "the product launch event",
    "the fire drill", "the weekly sync with ACME", "the welcome party for new hires", "the ISO audit",
    "the shareholders' meeting", "the quality improvement project", "the trade show booth", "the factory tour",
    "the office renovation", "the internal hackathon", "the year-end inventory count", "the sales kickoff",
    "the futsal club practice", "the customer satisfaction survey", "the new ERP briefing", "the beach clean-up",
    "the recruiting event", "the intern programme", "the budget meeting", "the anniversary party",
    "the tech study group", "the English conversation club", "the earnings briefing", "the safety committee",
    "the new warehouse", "the marketing webinar", "the Fukuoka office opening", "the product photo shoot",
    "the TV commercial shoot", "the golf tournament", "the blood donation drive", "the new logo",
    "the website redesign", "the summer festival stall", "the rooftop opening", "the board meeting",
    "the partner awards", "the patent filing", "the showroom makeover", "the ESG report", "the RPA rollout",
)
_NOISE_EN_ASPECTS = (
    "who is in charge of {s}?|who runs {s}?", "where is {s} held?|what's the venue for {s}?",
    "what time does {s} start?", "how much does {s} cost?|what's the budget for {s}?",
    "where are the slides for {s}?", "has {s} been cancelled?|is {s} still on?", "how do I sign up for {s}?",
    "are there photos from {s}?", "who is attending {s}?", "is {s} postponed?", "what's the dress code for {s}?",
    "will lunch be provided at {s}?", "can I join {s} online?", "when will we hear the results of {s}?",
    "who approved {s}?", "is there a template for the report on {s}?",
)
_NOISE_EN_MODIFIERS = ("", "", "the Osaka team's ", "next month's ", "this year's ", "the sales team's ")
# fmt: on

_PARTICLES = ("が", "を", "の", "に", "は")
_HALF_TO_FULL = {c: chr(ord(c) + 0xFEE0) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"}


def _perturb_ja(text: str, rng: random.Random) -> str:
    if rng.random() < 0.15:  # a particle dropped (casual or hurried typing)
        spots = [i for i, c in enumerate(text) if c in _PARTICLES and 0 < i < len(text) - 2]
        if spots:
            i = rng.choice(spots)
            text = text[:i] + text[i + 1 :]
    if rng.random() < 0.05 and len(text) > 6:  # a character lost
        i = rng.randrange(1, len(text) - 1)
        text = text[:i] + text[i + 1 :]
    if rng.random() < 0.1:  # full-width letters (an IME setting)
        text = "".join(_HALF_TO_FULL.get(c, c) for c in text)
    if rng.random() < 0.2:
        text = text.replace("？", "?") if rng.random() < 0.5 else text.rstrip("？?。")
    return text


def _perturb_en(text: str, rng: random.Random) -> str:
    if rng.random() < 0.3:
        text = text.lower()
    if rng.random() < 0.3:
        text = text.rstrip("?.!")
    if rng.random() < 0.08:  # two letters swapped
        spots = [i for i in range(len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
        if spots:
            i = rng.choice(spots)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text


def _paraphrase(topic: Topic, lang: str, rng: random.Random) -> str:
    if lang == "ja":
        if topic.ja_full and rng.random() < 0.3:
            text = rng.choice(_JA_PRE) + rng.choice(topic.ja_full)
        else:
            text = rng.choice(_JA_PRE) + rng.choice(topic.ja) + rng.choice(_JA_END[topic.kind])
        return _perturb_ja(text, rng)
    if topic.en_full and rng.random() < 0.3:
        text = rng.choice(_EN_PRE) + rng.choice(topic.en_full)
    else:
        text = rng.choice(_EN_PRE) + rng.choice(_EN_FRAME[topic.kind]).format(s=rng.choice(topic.en))
    return _perturb_en(text[0].upper() + text[1:] if text else text, rng)


def _language(topic: Topic, rng: random.Random) -> str:
    if topic.lang == "both":
        return "ja" if rng.random() < 0.65 else "en"
    return topic.lang


def topic_sizes(n: int) -> dict[str, int]:
    """How often each topic is asked in a log of ``n`` questions (near-misses not included)."""
    scale = n / 10_000
    near = sum(max(1, round(t.size * scale)) if t.size > 1 else t.size for t in NEAR_MISSES)
    budget = n * (1 - NOISE_SHARE) - near
    weights = [_TOP_SIZE_AT_10K * math.exp(-rank / _DECAY) for rank in range(len(TOPICS))]
    factor = budget / sum(weights)
    return {t.key: max(2, round(w * factor)) for t, w in zip(TOPICS, weights, strict=True)}


def _noise(count: int, rng: random.Random) -> list[tuple[str, str]]:
    """One-off questions: a (subject, aspect) pair at most twice, the second time elsewhere or on a date."""
    pairs = [("ja", s, a) for s in _NOISE_JA_SUBJECTS for a in _NOISE_JA_ASPECTS]
    pairs += [("en", s, a) for s in _NOISE_EN_SUBJECTS for a in _NOISE_EN_ASPECTS]
    rng.shuffle(pairs)
    out: list[tuple[str, str]] = []
    for i in range(count):
        lang, subject, aspect = pairs[i % len(pairs)]
        again = i >= len(pairs)
        wording = rng.choice(aspect.split("|"))
        if lang == "ja":
            where = rng.choice(_NOISE_JA_MODIFIERS) if again or rng.random() < 0.3 else ""
            date = f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日の" if again and rng.random() < 0.5 else ""
            out.append((_perturb_ja(rng.choice(_JA_PRE) + date + where + subject + wording, rng), lang))
        else:
            where = rng.choice(_NOISE_EN_MODIFIERS) if again or rng.random() < 0.3 else ""
            text = wording.format(s=where + subject.removeprefix("the ") if where else subject)
            if again and rng.random() < 0.5:
                day = rng.choice(("Mon", "Tue", "Wed", "Thu", "Fri"))
                text = text.rstrip("?") + f" on {day} the {rng.randint(1, 28)}th?"
            text = rng.choice(_EN_PRE) + text
            out.append((_perturb_en(text[0].upper() + text[1:], rng), lang))
    return out


def make_log(n: int, seed: int) -> QuestionLog:
    """A shuffled log of exactly ``n`` questions (n >= 200), deterministic for (n, seed)."""
    if n < 200:
        raise ValueError("the log needs at least 200 questions")
    rng = random.Random(seed)
    people = [f"person{i:03d}@example.co.jp" for i in range(PEOPLE)]
    sizes = topic_sizes(n)
    scale = n / 10_000
    for t in NEAR_MISSES:
        sizes[t.key] = max(1, round(t.size * scale)) if t.size > 1 else t.size
    questions: list[Question] = []
    for topic in (*TOPICS, *NEAR_MISSES):
        few = rng.sample(people, topic.askers) if topic.askers else None
        kind = "near" if topic.parent else "paraphrase"
        for _ in range(sizes[topic.key]):
            lang = _language(topic, rng)
            asker = rng.choice(few) if few else rng.choice(people)
            questions.append(Question(_paraphrase(topic, lang, rng), asker, topic.key, lang, kind))
    for i, (text, lang) in enumerate(_noise(n - len(questions), rng)):
        questions.append(Question(text, rng.choice(people), f"noise:{i}", lang, "noise"))
    rng.shuffle(questions)
    topics = {t.key: t for t in (*TOPICS, *NEAR_MISSES)}
    return QuestionLog(questions, topics, sizes)
