"""The workbench's words: English message ids, Chinese first.

:data:`ZH` holds the workbench's own translations; kiosk words (screening categories, ratings)
come from the kiosk's zh_CN catalog. ``tests/hub/web/test_i18n_and_cli.py`` checks that every ``_("…")``
of the templates and routes has a Chinese translation here or there.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from kiosk.i18n import gettext

ZH: dict[str, str] = {
    "A resident rated a service Dissatisfied or Very dissatisfied: call them back, note what was done, close.":
        "居民对服务评价为“不满意”或“非常不满意”：请回访，记录处理情况，然后关闭。",
    "Abnormal": "异常", "Account added.": "账号已添加。", "Accounts": "账号", "Acknowledge": "确认收到",
    "Acknowledged by {who}": "{who} 已确认", "Acknowledged.": "已确认。", "Action taken": "处置措施",
    "Active": "启用中", "Activity": "活动", "Add": "添加", "Add an account": "添加账号", "After": "之后",
    "Alert": "预警", "Alert resolved.": "预警已处理完毕。", "Alerts": "预警", "All follow-ups": "全部回访",
    "App": "软件版本", "Assigned to": "负责人", "Audit log": "操作日志", "Back": "返回", "Back to alerts": "返回预警列表",
    "Backlog": "积压", "Balance (h)": "余额（小时）", "Before": "之前", "Blood pressure": "血压", "Category": "分类",
    "Certificate PDF": "证明 PDF", "Changes against the published version": "与已发布版本的差异",
    "Check and preview": "检查并预览", "Checked in": "签到", "Close": "关闭", "Closed": "已关闭",
    "Consent withdrawal": "撤回同意", "Consent withdrawal recorded; {n} health records deleted.":
        "已记录撤回同意；已删除 {n} 条健康记录。",
    "Credit": "核定", "Credited {hours} h.": "已核定 {hours} 小时。", "Dead letters": "无法接收的消息",
    "Decision": "审核", "Details": "详情", "Device faults reported by the kiosk": "终端报告的设备故障",
    "Device faults: {n}": "设备故障 {n} 项", "Disable": "停用", "Disabled": "已停用", "Do not credit": "不予核定",
    "Document": "文件", "Documents": "下发文件", "Download CSV": "下载 CSV", "Download Excel (XLSX)": "下载 Excel（XLSX）",
    "Download PDF": "下载 PDF", "Enable": "启用",
    "Every staff action, newest first. Entries are never changed or removed.": "所有工作人员操作，最新在前。记录不可修改或删除。",
    "Fault": "故障", "Follow-up closed.": "回访已关闭。", "Follow-ups": "回访", "Follow-ups at station {station}":
        "驿站 {station} 的回访", "For": "下发范围", "Glucose": "血糖", "Handle": "处理",
    "Health screening days": "健康筛查日", "Health screening, {month}": "健康筛查统计（{month}）", "Hours": "小时",
    "Hours follow volunteers across stations; balances are the hub's.": "志愿时长跨驿站累计；余额以区级平台为准。",
    "Hours this month": "本月时长", "Include closed": "包括已关闭", "Include resolved": "包括已处理", "Kiosk": "终端",
    "Last": "最近", "Last seen": "最近在线", "Last sync": "最近同步", "Measurements": "测量次数",
    "Messages from this station the hub could not accept, with the reason. Nothing is dropped silently.":
        "平台无法接收的该驿站消息及原因。任何消息都不会被悄悄丢弃。",
    "Month": "月份", "Monthly volunteer report": "志愿服务月报", "Name": "姓名", "Never seen": "从未上线", "New": "新预警",
    "New alerts appear here by themselves within seconds. An alert not acknowledged within 15 minutes turns red.":
        "新预警几秒内自动出现，无需刷新。15 分钟内未确认的预警会变红。",
    "No changes.": "没有变化。", "No dead letters.": "没有无法接收的消息。", "No measurements in this month.": "本月没有测量记录。",
    "No open alerts.": "没有未处理的预警。", "No open follow-ups.": "没有待回访。", "No records in your stations.": "您的驿站没有此人的记录。",
    "No station has reported yet.": "还没有驿站上报。", "No volunteers yet.": "还没有志愿者。", "Nobody found.": "没有找到。",
    "Nobody is on shift.": "当前无人值班。", "Not acknowledged for over 15 min": "超过 15 分钟未确认",
    "Not credited; the reason is kept.": "不予核定，原因已记录。", "Not done": "未完成",
    "Not published: the kiosks would refuse this document.": "未发布：终端会拒收此文件。", "Not reporting": "失联",
    "Note": "备注", "Nothing to review.": "没有待审核的值班。", "Nothing was changed.": "没有做任何更改。", "Object": "对象",
    "Offline": "离线", "On shift": "值班中", "On shift now": "当前值班", "Online": "在线", "Open": "打开",
    "Open alerts": "未处理预警", "Open alerts only": "只看未处理", "Open follow-ups": "待回访", "Open only": "只看未关闭",
    "Opened": "开始时间", "Or upload a JSON file": "或上传 JSON 文件", "Password": "密码", "Person key": "居民编码",
    "Please sign in again. Nothing was changed.": "请重新登录。没有做任何更改。", "Proposed (h)": "建议时长（小时）",
    "Publish": "发布", "Publish a document to the kiosks": "向终端发布文件", "Publish now": "立即发布",
    "Published version": "已发布版本", "Published {type} version {version}.": "已发布 {type} 第 {version} 版。",
    "Queue": "待同步", "Rating": "评价", "Reading": "读数", "Reason": "原因", "Received": "接收时间", "Record": "记录",
    "Record the action taken": "记录处置措施", "Record withdrawal and delete health records": "记录撤回并删除健康记录",
    "Records": "记录数", "Records received per day": "每日接收记录数", "Replay": "重新处理",
    "Replayed: {result}": "已重新处理：{result}", "Not replayed: {reason}": "未能重新处理：{reason}", "Reports": "报表", "Resident": "居民", "Residents": "居民",
    "Residents measured": "测量人数", "Resolve": "处理完毕", "Resolved": "已处理", "Review": "去审核", "Reviews": "审核",
    "Role": "角色", "Save": "保存", "Save action": "保存处置", "Saved.": "已保存。", "Screening categories": "筛查分类",
    "Screening days": "筛查日", "Search": "查找", "Service": "服务", "Shifts to review": "待审核值班",
    "Shifts to review at station {station}": "驿站 {station} 待审核的值班", "Show": "显示", "Sign in": "登录",
    "Sign out": "退出", "Since": "开始", "Size": "大小", "State": "状态", "Station": "驿站",
    "Station or _all": "驿站编号或 _all", "Station {station}": "驿站 {station}",
    "Station {station} is not in your account's scope. Nothing was changed.": "驿站 {station} 不在您的账号权限内。没有做任何更改。",
    "Stations": "驿站", "Status": "状态", "Team": "队伍", "Teams": "队伍",
    "The action taken is recorded.": "处置措施已记录。", "The document passed the kiosks' checks.": "文件已通过终端的检查。",
    "The form could not be read. Nothing was changed.": "无法读取表单。没有做任何更改。",
    "The form has expired or did not come from this site. Reload the page and try again. Nothing was changed.":
        "表单已过期或不是来自本站。请刷新页面后重试。没有做任何更改。",
    "The hub never holds a name or an ID number. Search by the person key shown on the alert or the kiosk slip "
    "(at least 8 characters).": "平台不保存姓名和身份证号。请用预警或小票上的居民编码查找（至少 8 位）。",
    "The resident withdrew consent to health data processing. Delete their measurements and alerts at my stations "
    "(this is recorded and cannot be undone).": "居民撤回了处理健康数据的同意。删除其在我所辖驿站的测量和预警记录（此操作会被记录，且不可撤销）。",
    "The upload is too large (at most {kb} KB). Nothing was changed.": "上传内容过大（最多 {kb} KB）。没有做任何更改。",
    "These shifts were closed automatically at the cut-off. Credit the hours actually served, or do not credit "
    "them and say why.": "这些值班在截止时间被自动结束。请核定实际服务时长，或不予核定并说明原因。",
    "This station has not reported yet.": "该驿站还没有上报。", "Time": "时间", "Today": "今日",
    "Today at station {station}": "驿站 {station} 今日", "Today: all my stations": "今日：我的全部驿站", "Urgent": "紧急",
    "Urgent alert": "紧急预警", "Urgent alerts": "紧急预警", "Urgent alerts at station {station}": "驿站 {station} 的紧急预警",
    "User name": "用户名", "Volunteer": "志愿者", "Volunteer service certificate (志愿服务证明)": "志愿服务证明",
    "Volunteers": "志愿者", "What": "操作", "What was done": "处理情况", "Who": "操作人", "Workbench": "工作台",
    "Yizhan": "驿站", "Yizhan workbench": "驿站工作台", "Your account may not open this page.": "您的账号无权打开此页面。",
    "_all = every station": "_all 表示全部驿站", "all": "全部", "declined": "拒绝", "granted": "同意", "none": "无",
    "oldest": "最早", "pulse": "脉搏", "{n} min ago": "{n} 分钟前",
    "{n} shifts were closed automatically and earn nothing until reviewed.": "{n} 个值班被自动结束，审核前不计时长。",
    # states, roles, document types, actions, record kinds
    "Acknowledged": "已确认", "Staff": "驿站工作人员", "District": "街道", "Admin": "管理员",
    "Catalog": "服务目录", "Roster": "志愿者名册", "Config": "终端配置",
    "Saw the resident on site": "现场查看居民", "Called the resident": "已电话联系居民",
    "Referred to the family doctor": "已转介家庭医生", "Called the family": "已联系家属", "Called 120": "已拨打 120",
    "Other (see note)": "其他（见备注）", "Service confirmed": "服务确认", "Follow-up": "回访", "Consent": "同意书",
    "Visit": "到访",
    # audit actions
    "Signed in": "登录", "Sign-in failed": "登录失败", "Signed out": "退出", "Account added": "添加账号",
    "Password changed": "修改密码", "Account disabled": "停用账号", "Account enabled": "启用账号",
    "Failed sign-ins cleared": "清除登录失败记录",
    "Alert acknowledged": "确认预警", "Action recorded": "记录处置", "Alert resolved": "预警处理完毕",
    "Follow-up noted": "回访备注", "Follow-up closed": "关闭回访", "Shift credited": "核定值班",
    "Shift not credited": "不予核定", "Document published": "发布文件", "Dead letter replayed": "重新处理消息",
    "Consent withdrawn, records deleted": "撤回同意并删除记录",
    # errors the pages show (the exceptions' own texts)
    "record the action taken before resolving the alert": "请先记录处置措施，再标记处理完毕。",
    "write what was done before closing the follow-up": "关闭回访前请写明处理情况。",
    "this follow-up is already closed": "这条回访已经关闭。",
    "too many failed sign-ins: wait 15 minutes and try again": "登录失败次数过多：请 15 分钟后再试。",
    "wrong user name or password, or the account is disabled": "用户名或密码错误，或账号已停用。",
    "give a reason (at most 500 characters) for not crediting the shift": "不予核定时请填写原因（最多 500 字）。",
    "hours must be more than 0 and at most 24": "时长须大于 0 且不超过 24 小时。",
    "search by person key: 8 to 64 hex digits (never a name or an ID number)":
        "请用居民编码查找：8 到 64 位十六进制字符（不能用姓名或身份证号）。",
    "tick the box to confirm the resident withdrew consent": "请勾选确认居民已撤回同意。",
    "choose a volunteer": "请选择志愿者。", "you cannot disable your own account": "不能停用自己的账号。",
    "the password needs at least 10 characters": "密码至少需要 10 个字符。",
}
ZH.update({   # 四代请求 (hub/web/routes/requests.py)
    "Assign": "派单", "Cancel request": "取消请求", "No open requests.": "没有待处理的请求。", "Number": "编号",
    "Not done: {reason}": "未完成：{reason}", "Overdue": "超时", "Requests": "四代请求", "State": "状态",
    "Priority requests (banked volunteer hours) first, then the oldest. Assign a volunteer, or cancel with a reason.":
        "优先请求（有志愿服务时长）排在前面，其余按时间先后。可派给志愿者，或说明原因后取消。",
    "Saved and sent to the kiosks.": "已保存并下发到终端。",
    "Saved; the kiosks will see it when the broker is reachable again.": "已保存；消息服务恢复后终端即可看到。",
    "Service requests": "四代请求", "Service requests at station {station}": "驿站 {station} 的四代请求",
    "Volunteer id": "志愿者编号", "When": "时间",
    "(no name in the roster)": "（名册中无姓名）", "Choose the action taken first.": "请先选择处置措施。", "{hours} h": "{hours} 小时",
    "No volunteer has credited hours yet.": "还没有志愿者获得核定时长。",
    "Asked at": "提出时间", "Note": "留言", "Choose a volunteer…": "选择志愿者…", "on shift now": "正在值班",
    "Done; waiting for the resident to confirm": "已完成，等待居民确认", "Confirmed by the resident": "居民已确认",
    "Assigned by staff to {who}": "已派给 {who}（志愿者尚未在终端操作）", "{who} took it on at a kiosk": "{who} 已在终端接单",
    "Not assigned: {reason}": "未派单：{reason}",
    "No volunteer {who} is known: pick one from the list.": "没有志愿者 {who}，请从列表中选择。",
    "{who} asked for this request and cannot be assigned to it.": "{who} 是提出这个请求的人，不能派给本人。",
    "Assigned to {who}; it shows in their tasks at the kiosk. Nobody has accepted it yet.":
        "已派给 {who}，会出现在其终端的“我的任务”中；志愿者尚未接单。",
})

ZH.update({   # 家庭医生 / 健康管理员 (hub/web/routes/care.py)
    "Care": "健康管理", "Care sharing": "告知家庭医生", "Care worklist": "健康管理工作单", "Screening": "筛查项目", "Status": "状态", "Since": "开始于",
    "Due": "截止", "Date": "日期", "Reading": "读数", "Outcome": "结果", "Note": "备注", "FHIR export": "导出 FHIR",
    "Record the referral": "登记转诊", "Record the outcome": "登记转诊结果", "Recorded: {status}.": "已登记：{status}。",
    "Nobody is waiting for the care team.": "目前没有需要跟进的居民。",
    "Residents who agreed to share their screening with the care team: three high readings on different days "
    "(refer within two weeks), or a referral whose outcome is due. Oldest first.":
        "已同意与家庭医生团队共享筛查结果的居民：不同日子三次测得偏高（两周内转诊），或转诊后待随访结果。按时间先后排列。",
    "normal": "正常", "recheck_due": "待复测", "two_of_three": "已测 2 次，共 3 次", "referral_suggested": "建议转诊",
    "referred": "已转诊", "outcome_recorded": "已登记结果", "confirmed": "确诊，已在医疗机构管理",
    "not_confirmed": "未确诊", "unreachable": "无法联系",
})

ZH.update({   # 微心愿 and 我有建议 (hub/web/routes/wishes.py)
    "Wishes": "微心愿", "Wish board": "心愿墙", "Wish board at station {station}": "驿站 {station} 的心愿墙",
    "Residents post small wishes (微心愿) and suggestions at the kiosk. Put a wish on the board, record who claims "
    "it, then fulfil it with a note: the resident reads the note at the next card tap.":
        "居民在终端提交微心愿和建议。把心愿发布到心愿墙，登记认领人，实现后写一句说明：居民下次刷卡就能看到。",
    "Include fulfilled and answered": "包括已实现和已答复", "Small wishes (微心愿)": "微心愿",
    "Suggestions (我有建议)": "我有建议", "Posted": "提交时间", "Wish": "心愿", "Suggestion": "建议",
    "Claimed by": "认领人", "Who claims it": "认领人姓名或单位", "Note for the resident": "给居民的说明",
    "Answer for the resident": "给居民的答复", "Put on the board": "发布到心愿墙", "Claimed": "已认领",
    "Fulfilled": "已实现", "Answer": "答复", "Answered": "已答复", "On the board": "心愿墙上",
    "No open wishes.": "没有待处理的心愿。", "No open suggestions.": "没有待答复的建议。",
    "Donor": "爱心人士", "Waiting to publish": "待发布", "Record the claim": "登记认领",
    "Mark fulfilled": "确认实现", "Waiting for an answer": "待答复", "Work unit": "共建单位",
    "Not done: this is “{state}” now; the page was out of date.": "未完成：这一条现在是“{state}”，页面已过时，请刷新。",
    "name who claims it and whether it is a donor, volunteer, unit": "请填写认领人，并选择爱心人士、志愿者或共建单位。",
    "write a short note for the resident": "请给居民写一句说明。",
    "write a short answer for the resident": "请给居民写一句答复。",
    "Wish put on the board": "心愿发布到心愿墙", "Wish claimed": "心愿已认领", "Wish fulfilled": "心愿已实现",
    "Suggestion answered": "建议已答复", "Request assigned": "请求派单", "Request cancelled": "请求取消",
    "Activity published": "发布活动",
})
ZH.update({   # 近期活动 (hub/web/routes/activities.py, hub/web/calendar.py)
    "Activities at station {station}": "驿站 {station} 的近期活动", "Activities: the whole district": "近期活动：全区",
    "The calendar the kiosks show under 近期活动. Sign-ups are pooled across stations: the first ones up to the "
    "number of places hold a seat, the rest wait.":
        "终端“近期活动”显示的日程。各驿站报名合并计算：名额以内的报名有座位，其余候补。",
    "Sessions held (场次), {month}": "{month} 活动场次", "Attendances (人次), {month}": "{month} 参加人次",
    "Calendar version": "日程版本", "Time": "时间", "Place": "地点", "Places": "名额",
    "Signed up (all stations)": "报名（全部驿站）", "Waiting": "候补", "Sign-ups by station": "各驿站报名",
    "Attended": "签到人次", "Over": "已结束", "Every station": "全部驿站",
    "No activities in the calendar yet.": "日程里还没有活动。", "Add an activity": "新增活动", "Title": "名称",
    "Date": "日期", "Starts": "开始", "Ends": "结束", "For which stations": "面向哪些驿站",
    "Tick none for every station.": "不勾选表示全部驿站。", "Publish to the kiosks": "发布到终端",
    "Published the calendar (version {version}) with {title}.": "已发布日程（第 {version} 版），含“{title}”。",
    "Give the activity a title of at most {n} characters.": "请填写活动名称（最多 {n} 个字）。",
    "Say where it takes place, in at most {n} characters.": "请填写活动地点（最多 {n} 个字）。",
    "Give the date, the start time and the end time.": "请填写日期、开始时间和结束时间。",
    "The activity must end after it starts.": "结束时间必须晚于开始时间。",
    "{title} would start in the past ({when}); choose a later time.": "“{title}”的开始时间（{when}）已经过去，请选择以后的时间。",
    "The number of places must be from 1 to 10000.": "名额须在 1 到 10000 之间。",
    "{title} overlaps {other} at {place} ({when}); choose another time or place.":
        "“{title}”与{place}的“{other}”（{when}）时间重叠，请换个时间或地点。",
    "Choose the stations the activity is for (your account may publish for its own stations only).":
        "请勾选活动面向的驿站（您的账号只能为本驿站发布活动）。",
    "The calendar was changed (now version {now}) after this page showed version {seen}. Nothing was published; "
    "check the list and add the activity again.":
        "打开本页时日程是第 {seen} 版，现在已被改为第 {now} 版。没有发布任何内容；请核对列表后重新添加。",
    "Not published: the kiosks would refuse this calendar ({reason}).": "未发布：终端会拒收这份日程（{reason}）。",
})
ZH.update({   # 街道月报 (hub/web/routes/monthly.py)
    "Monthly report": "街道月报", "Monthly report for the street office, {month}": "街道月报（{month}）",
    "Residents measured and results, screening days, errand requests by type and outcome, wishes, suggestions, "
    "activities (场次, 人次), volunteer hours by team and ratings. Every record counts once.":
        "测量居民与结果、健康筛查日、四代服务（按类型和结果）、微心愿、建议、活动（场次、人次）、各队志愿服务时长和评价。每条记录只计一次。",
    "All stations and the district": "全部驿站和全区", "All my stations": "我的全部驿站", "Item": "项目",
    "Value": "数值", "The whole district": "全区", "Nothing was recorded in this month.": "本月没有记录。",
})


#: What failed, in Chinese, for error texts that carry values (ids, numbers) and so have no entry of
#: their own: the page shows this lead, then the text as the error gave it.
ZH_LEADS: dict[str, str] = {
    "work_error": "无法完成此操作", "account_error": "账号操作未完成", "document_refused": "文件不能发布",
    "timebank_error": "无法审核", "resident_error": "居民操作未完成", "hub_error": "平台数据库或消息服务出错",
    "report_error": "无法生成报表", "screening_error": "无法统计", "sync_bad_message": "文件未通过终端的检查",
    "sync_station_mismatch": "驿站不符", "calendar_refused": "活动未发布",
}


def error_text(exc: Exception, lang: str) -> str:
    """The person-readable text of an error that carries a ``user_key``, in the page's language."""
    text = str(exc)
    if lang != "zh":
        return text
    translated = translator("zh")(text)
    if translated != text:
        return translated
    return f"{ZH_LEADS.get(getattr(exc, 'user_key', ''), '无法完成')}：{text}"


@functools.cache
def translator(lang: str) -> Callable[..., str]:
    """``_(msgid, **fmt)`` for ``zh`` (Chinese) or ``en`` (the message ids themselves)."""

    def _(msgid: str, **fmt) -> str:
        text = msgid
        if lang == "zh":
            text = ZH.get(msgid) or gettext(msgid, "zh_CN")
        return text.format(**fmt) if fmt else text
    return _
