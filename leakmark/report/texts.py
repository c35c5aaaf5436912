"""The report's words in Chinese and English. `{name}` fields are filled by `model`; every value put into
them is escaped by the template (the texts themselves hold no markup).

Wording rule (DESIGN.md §4): a copy is "the source of this capture", never "X leaked it"."""

from __future__ import annotations

LANGUAGES = ("zh", "en")

TEXTS: dict[str, dict[str, str]] = {
    "title": {"en": "Evidence report", "zh": "取证溯源报告"},
    "subtitle": {"en": "leakmark trace: which issued copy this evidence was made from",
                 "zh": "leakmark 溯源：本证据取自哪一份分发件"},
    # -- verdict
    "sec_verdict": {"en": "Verdict", "zh": "结论"},
    "verdict_identified": {"en": "Identified", "zh": "已认定"},
    "verdict_inconclusive": {"en": "Inconclusive", "zh": "不能确定"},
    "verdict_no-match": {"en": "No match", "zh": "未匹配"},
    "source_issued": {"en": "Copy {copy} issued to {who} is the source of this capture.",
                      "zh": "发给{who}的第 {copy} 号分发件是本证据所示内容的来源。"},
    "source_made": {"en": "Copy {copy} made for {who} is the source of this capture.",
                    "zh": "为{who}制作的第 {copy} 号分发件是本证据所示内容的来源。"},
    "source_issued_one_of": {"en": "Copy {copy} issued to {who} is one of the sources of this capture.",
                             "zh": "发给{who}的第 {copy} 号分发件是本证据所示内容的来源之一。"},
    "source_made_one_of": {"en": "Copy {copy} made for {who} is one of the sources of this capture.",
                           "zh": "为{who}制作的第 {copy} 号分发件是本证据所示内容的来源之一。"},
    "source_fap": {"en": "False-accusation probability: {fap} (threshold {threshold}).",
                   "zh": "误认概率：{fap}（阈值 {threshold}）。"},
    "source_where": {"en": "Its marks were found in {where}.", "zh": "其标记见于{where}。"},
    "collusion": {"en": "The evidence combines the marks of {n} copies: each of them is named above.",
                  "zh": "本证据同时带有 {n} 份分发件的标记，以上逐一列出。"},
    "caution": {"en": "This names the copy the capture was made from. It does not say who made the capture "
                      "or who disclosed it: that is for the investigation to establish.",
                "zh": "本结论只说明证据取自哪一份分发件，不说明由谁拍摄、由谁泄露；这些须由调查另行查明。"},
    "inconclusive_best": {"en": "The marks lean towards copy {copy} ({who}), but not strongly enough to name it: "
                                "its false-accusation probability is {fap}, above the threshold {threshold}{why}. "
                                "No copy is named.",
                          "zh": "标记倾向于第 {copy} 号分发件（{who}），但强度不足以认定：其误认概率为 {fap}，"
                                "高于阈值 {threshold}{why}。本报告不认定任何一份。"},
    "inconclusive_close": {"en": ", or other copies score almost as high", "zh": "，或其他分发件得分与之接近"},
    "inconclusive_also": {"en": "Copy {copy} ({who}) also scores high (false-accusation probability {fap}): the "
                                "evidence may combine parts of several copies.",
                          "zh": "第 {copy} 号分发件（{who}）的得分也较高（误认概率 {fap}）：证据可能由多份分发件的"
                                "部分拼合而成。"},
    "inconclusive_next": {"en": "A sharper or more complete capture (the whole page, more pages) may decide it: "
                                "trace it again.",
                          "zh": "更清晰、更完整的证据（整页、更多页）可能得出结论，请补充后重新溯源。"},
    "nomatch_nopage": {"en": "The evidence shows no page of any registered document, so it indicates no "
                             "issued copy.",
                       "zh": "证据中未找到任何已登记文件的页面，因此不指向任何分发件。"},
    "nomatch_page": {"en": "The evidence shows page(s) {pages} of “{title}”, but no issued copy's marks were "
                           "found in it (best false-accusation probability {fap}).",
                     "zh": "证据显示的是《{title}》第 {pages} 页，但未发现任何分发件的标记（最小误认概率 {fap}）。"},
    "nomatch_nocopies": {"en": "The evidence shows page(s) {pages} of “{title}”, which has no issued copies "
                               "to compare with.",
                         "zh": "证据显示的是《{title}》第 {pages} 页，但该文件没有可比对的分发件。"},
    "status_line": {"en": "Status of copy {copy} in the register: {status}.",
                    "zh": "登记簿中第 {copy} 号的状态：{status}。"},
    "status_note": {"en": "Note: copy {copy} is recorded as {status}, yet this capture carries its marks.",
                    "zh": "注意：第 {copy} 号在登记簿中为“{status}”，但本证据带有它的标记。"},
    "register_failed": {"en": "WARNING: the register FAILED verification ({problem}). It was read only because "
                              "--trust-register was given: rely on nothing in this report without checking the "
                              "register against a backup.",
                        "zh": "警告：登记簿未通过校验（{problem}）。仅因使用了 --trust-register 才读取；"
                              "在与备份核对之前，本报告的任何内容都不可作为依据。"},
    # -- statuses
    "st_issued": {"en": "issued", "zh": "已分发"},
    "st_returned": {"en": "returned", "zh": "已退回"},
    "st_destroyed": {"en": "destroyed", "zh": "已销毁"},
    "st_void": {"en": "void", "zh": "已作废"},
    "st_reserved": {"en": "reserved (never issued)", "zh": "已预留（未分发）"},
    "st_on": {"en": "{status} on {date}", "zh": "{status}（{date}）"},
    # -- document
    "sec_document": {"en": "Document", "zh": "文件"},
    "doc_id": {"en": "Document ID", "zh": "文件编号"},
    "doc_title": {"en": "Title", "zh": "标题"},
    "doc_level": {"en": "Classification", "zh": "密级"},
    "doc_period": {"en": "Period", "zh": "保密期限"},
    "doc_pages": {"en": "Pages shown", "zh": "证据所示页"},
    "doc_sha": {"en": "SHA-256 of the original", "zh": "原件 SHA-256"},
    "doc_copies": {"en": "Issued copies scored", "zh": "参与比对的分发件"},
    "of_pages": {"en": "{pages} of {total}", "zh": "{pages}（共 {total} 页）"},
    # -- evidence
    "sec_evidence": {"en": "The evidence", "zh": "证据"},
    "ev_file": {"en": "File", "zh": "文件"},
    "ev_page": {"en": "Page", "zh": "页"},
    "ev_result": {"en": "Result", "zh": "结果"},
    "ev_aligned": {"en": "aligned to page {page}", "zh": "已对齐到原件第 {page} 页"},
    "ev_not_aligned": {"en": "not aligned", "zh": "未对齐"},
    "ev_received": {"en": "As received", "zh": "原始证据"},
    "ev_located": {"en": "Page found in it", "zh": "识别出的页面"},
    "ev_mirrored": {"en": "Page found in it (the capture is a mirror image)", "zh": "识别出的页面（证据为镜像）"},
    "ev_not_found": {"en": "No registered page found in it", "zh": "未识别出已登记的页面"},
    "ev_aligned_img": {"en": "Evidence aligned to the original", "zh": "与原件对齐后的证据"},
    "ev_original": {"en": "Archived original, page {page}", "zh": "存档原件第 {page} 页"},
    "ev_overlay": {"en": "Measured units against copy {copy}'s code", "zh": "测量单元与第 {copy} 号编码的比对"},
    "ev_overlay_legend": {"en": "Blue: the unit moved as copy {copy}'s code says. Orange: it moved the other way. "
                                "Unmarked: not measured (outside the capture, blurred or covered). {agree} of "
                                "{measured} measured units ({pct}) agree; for a copy that is not the source about "
                                "half do (the score also weighs how clearly each unit moved).",
                          "zh": "蓝色：该单元的位移与第 {copy} 号的编码一致；橙色：方向相反；无标注：未能测量"
                                "（不在画面内、模糊或被遮挡）。在 {measured} 个已测单元中有 {agree} 个一致（{pct}）；"
                                "对非来源分发件，一致的约占一半（得分还考虑每个单元位移的清晰程度）。"},
    "ev_overlay_best": {"en": "(the best-scoring copy; not named)", "zh": "（得分最高的分发件，未认定）"},
    "ev_dropped": {"en": "Images of {n} further evidence page(s) are not shown (their hashes are listed above).",
                   "zh": "另有 {n} 页证据的图像未列出（其哈希值见上表）。"},
    "sec_images": {"en": "The evidence, page by page", "zh": "逐页证据图像"},
    "images_intro": {"en": "Each located page: the evidence as received, the page found in it, the evidence "
                           "aligned onto the archived original, the original itself, and the measured units "
                           "coloured by whether each moved as the copy's code says.",
                     "zh": "对每一页：原始证据、从中识别出的页面、与存档原件对齐后的证据、存档原件，"
                           "以及按位移是否符合该分发件编码着色的测量单元。"},
    "file_ids": {"en": "File identifiers", "zh": "文件标识"},
    "disagreements": {"en": "Disagreements", "zh": "不一致之处"},
    # -- scores
    "sec_scores": {"en": "Scores", "zh": "得分"},
    "chart_caption": {"en": "Every issued copy's score (n = {n}). Copies that are not the source score around 0. "
                            "Red line: the score at which the false-accusation probability reaches the threshold "
                            "{threshold}; orange line: where it reaches 1 % (inconclusive). Named copies in blue. "
                            "These are scores on the whole evidence: a copy named on a part of it (a page, a "
                            "region, after other marks were removed) can stand below the red line here.",
                      "zh": "全部 {n} 份分发件的得分。非来源分发件的得分分布在 0 附近。红线：误认概率达到阈值 "
                            "{threshold} 时的得分；橙线：误认概率为 1 % 时的得分（不能确定区间）。"
                            "蓝色为认定的分发件。此处为整份证据上的得分：按部分（某页、某区域、去除其他标记之后）"
                            "认定的分发件在此可能低于红线。"},
    "chart_axis": {"en": "score (z)", "zh": "得分 (z)"},
    "chart_copies": {"en": "copies in the tallest bar", "zh": "最高柱的份数"},
    "th_rank": {"en": "#", "zh": "序"},
    "th_copy": {"en": "Copy", "zh": "份号"},
    "th_recipient": {"en": "Recipient", "zh": "收件人"},
    "th_unit": {"en": "Unit", "zh": "单位"},
    "th_score": {"en": "Score", "zh": "得分"},
    "th_fap": {"en": "False-accusation probability", "zh": "误认概率"},
    "th_layers": {"en": "Per layer", "zh": "各层得分"},
    "th_status": {"en": "Status", "zh": "状态"},
    "named_mark": {"en": "named", "zh": "认定"},
    "layers_intro": {"en": "Per-layer scores of the copies shown (each is on the same scale; the score is the "
                           "best combination of a copy's layers):",
                     "zh": "所列分发件各标记层的得分（同一尺度；总分取该分发件各层的最佳组合）："},
    "layer_shift": {"en": "shift (text positions)", "zh": "位移层（文字位置）"},
    "layer_tone": {"en": "tone (light pattern)", "zh": "色调层（浅色图案）"},
    "layer_blind": {"en": "blind (embedded payload)", "zh": "盲水印层"},
    "layer_file": {"en": "file identifiers", "zh": "文件标识"},
    "sec_bound": {"en": "How the false-accusation probability is bounded", "zh": "误认概率的上界"},
    "bound_none": {"en": "No issued copy was scored: the evidence shows no page of a document with issued copies.",
                   "zh": "未对任何分发件评分：证据中没有已分发文件的页面。"},
    "bound": {"en": "Each issued copy's score says how strongly the measured displacements agree with that copy's "
                    "secret code. For a copy that is not the source the code is independent of the evidence (it "
                    "is derived from the workspace key and the copy number), so its score is a weighted sum of "
                    "random signs: the chance that it reaches a score z is at most min(exp(−z²/2), 3.178 × "
                    "P(N(0,1) ≥ z)) (Hoeffding; Bentkus & Dzindzalieta 2015), whatever the evidence. The "
                    "false-accusation probability multiplies that bound by the {n} copies scored and the {tests} "
                    "layer combination(s) tried. It is an upper bound on the chance that a copy which is not the "
                    "source scores this high by accident, not an estimate.",
              "zh": "每份分发件的得分表示测得的位移与该分发件的秘密编码有多吻合。对非来源分发件，其编码由工作区密钥"
                    "和份号导出，与证据无关，因此其得分是随机正负号的加权和：得分达到 z 的概率不超过 "
                    "min(exp(−z²/2), 3.178 × P(N(0,1) ≥ z))（Hoeffding；Bentkus 与 Dzindzalieta，2015），"
                    "与证据内容无关。误认概率为该上界乘以参与比对的 {n} 份分发件和所试的 {tests} 种标记层组合。"
                    "它是非来源分发件偶然得到如此高分的概率的上界，而不是估计值。"},
    "bound_parts": {"en": "Evidence assembled from several copies (pages of different copies, a page pasted from "
                          "two, copies averaged) is also scored in parts: each page alone, regions of each page "
                          "(bands of two to five sixths, across and down), and in further rounds (up to {rounds}) "
                          "with the marks of the copies already found removed ({parts} parts in a round, the whole "
                          "evidence included). The whole evidence keeps {weight} % of the threshold (its "
                          "probability above is divided by that share); the other parts and the later rounds "
                          "share the rest, each probability divided by its own share, so the probability that "
                          "any copy which is not a source is named stays below the threshold (a weighted "
                          "Bonferroni bound over every part and round).",
                    "zh": "由多份拼合的证据（不同份的页面、两份拼接的页面、多份叠加平均）"
                          "还按部分评分：逐页、每页的区域（横向与纵向占六分之二至六分之五的条带），"
                          "并在后续轮次（至多 {rounds} 轮）中去除已认定分发件的标记后重新评分"
                          "（每轮共 {parts} 个部分，含整份证据）。整份证据占阈值的 {weight} %"
                          "（上述概率已除以该份额）；其余部分和后续轮次分享余下部分，各自除以自身份额，"
                          "因此任何非来源分发件被认定的概率仍低于阈值"
                          "（对所有部分和轮次的加权 Bonferroni 上界）。"},
    "meaning_identified": {"en": "Identified: a copy's false-accusation probability is below the threshold "
                                 "({threshold}) and its score stands at least {sep} above every copy not named. "
                                 "Several copies can be named at once (evidence assembled from several copies).",
                           "zh": "已认定：某份的误认概率低于阈值（{threshold}），且得分比所有未认定的分发件至少高 "
                                 "{sep}。可同时认定多份（证据由多份拼合）。"},
    "meaning_inconclusive": {"en": "Inconclusive: the best copy's false-accusation probability is below 1 % but not "
                                   "below the threshold, or copies below the threshold do not stand clearly apart. "
                                   "The evidence is suggestive and names nobody.",
                             "zh": "不能确定：得分最高者的误认概率低于 1 % 但未低于阈值，或低于阈值的分发件之间区分"
                                   "不明显。证据有倾向性，但不认定任何一份。"},
    "meaning_nomatch": {"en": "No match: no copy's false-accusation probability is below 1 %, or the evidence shows "
                              "no registered page. This does not prove the evidence came from no issued copy: a "
                              "small, blurred or heavily processed capture can carry too little of the mark.",
                        "zh": "未匹配：没有任何一份的误认概率低于 1 %，或证据不含已登记页面。这并不证明证据不是来自"
                              "某份分发件：过小、模糊或经过大量处理的证据可能不足以携带标记。"},
    # -- register
    "sec_register": {"en": "Register entry of the named copy", "zh": "认定分发件的登记记录"},
    "sec_register_best": {"en": "Register entry of the best-scoring copy (not named)",
                          "zh": "得分最高分发件的登记记录（未认定）"},
    "reg_copy": {"en": "Copy", "zh": "份号"},
    "reg_recipient": {"en": "Recipient", "zh": "收件人"},
    "reg_unit": {"en": "Unit", "zh": "单位"},
    "reg_issued_at": {"en": "Issued at", "zh": "分发时间"},
    "reg_issued_by": {"en": "Issued by", "zh": "分发人"},
    "reg_status": {"en": "Status", "zh": "状态"},
    "reg_note": {"en": "Note", "zh": "备注"},
    "reg_run": {"en": "Issue run", "zh": "分发批次"},
    "reg_history": {"en": "History", "zh": "历史记录"},
    "th_time": {"en": "Time", "zh": "时间"},
    "th_event": {"en": "Event", "zh": "事件"},
    "th_operator": {"en": "Operator", "zh": "经办人"},
    "th_note": {"en": "Note", "zh": "备注"},
    "ev_run": {"en": "number reserved (issue run started)", "zh": "预留份号（开始分发）"},
    "ev_issued": {"en": "issued", "zh": "分发"},
    "ev_issue": {"en": "issued", "zh": "分发"},
    "ev_status": {"en": "status set: {status}", "zh": "状态变更：{status}"},
    "ev_void": {"en": "voided", "zh": "作废"},
    "ev_run_end": {"en": "run abandoned: copy void", "zh": "分发中止：该份作废"},
    # -- custody
    "sec_custody": {"en": "Chain of custody", "zh": "证据保管链"},
    "cu_files": {"en": "Evidence files", "zh": "证据文件"},
    "cu_sha": {"en": "SHA-256", "zh": "SHA-256"},
    "cu_size": {"en": "bytes", "zh": "字节"},
    "cu_time_local": {"en": "Report made (local time)", "zh": "报告生成时间（本地）"},
    "cu_time_utc": {"en": "Report made (UTC)", "zh": "报告生成时间（UTC）"},
    "cu_operator": {"en": "Operator", "zh": "操作人"},
    "cu_host": {"en": "Host", "zh": "计算机"},
    "cu_version": {"en": "leakmark version", "zh": "leakmark 版本"},
    "cu_key": {"en": "Key fingerprint", "zh": "密钥指纹"},
    "cu_head": {"en": "Register head", "zh": "登记簿链头"},
    "cu_events": {"en": "Register events", "zh": "登记簿事件数"},
    "cu_verified": {"en": "Register verification", "zh": "登记簿校验"},
    "cu_verified_ok": {"en": "verified (hash chain, HMAC and checkpoint)", "zh": "通过（哈希链、HMAC 与检查点）"},
    "cu_verified_failed": {"en": "FAILED: {problem}", "zh": "未通过：{problem}"},
    "cu_threshold": {"en": "Threshold", "zh": "阈值"},
    "cu_options": {"en": "Options", "zh": "选项"},
    "cu_command": {"en": "Command to reproduce", "zh": "复现命令"},
    "cu_recorded": {"en": "Recorded in the register as", "zh": "登记簿中的溯源记录"},
    "cu_not_recorded": {"en": "NOT recorded in the register",
                        "zh": "未记入登记簿"},
    "cu_command_note": {"en": "Run on the same workspace, it prints the same verdict and numbers (add --json for "
                              "them as JSON).",
                        "zh": "在同一工作区运行可得到相同的结论和数值（加 --json 输出 JSON）。"},
    "none": {"en": "none", "zh": "无"},
    "page_footer": {"en": "leakmark evidence report · {when} · page {page} of {pages}",
                    "zh": "leakmark 取证溯源报告 · {when} · 第 {page} 页，共 {pages} 页"},
}


def text(lang: str, name: str, **fields: object) -> str:
    """The text `name` in `lang`, its `{fields}` filled."""
    template = TEXTS[name][lang]
    return template.format(**fields) if fields else template
