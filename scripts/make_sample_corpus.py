"""Write the PolicyKB sample corpus (notices, a 办法 PDF, an HTML page, a paper, two GB18030 laws).

【示例语料】Every document written here is a PolicyKB sample: text rewritten in our own words
from public policy, with some details (table figures, 第十二条's validity period, the
示例市 办法 pair) invented for the demo. Each document says so in its last line. The corpus
exists so the app and the tests have real files in every supported format to index on a
fresh machine; users replace it with their own documents.

Usage: python scripts/make_sample_corpus.py [OUT_DIR]   (default: corpus/ next to this script)

The output is deterministic: the same bytes on every run (fixed PDF/DOCX dates, fixed zip
timestamps), so tests/test_sample_corpus.py can check the committed files against it.
"""

from __future__ import annotations

import io
import sys
import zipfile
from datetime import datetime
from pathlib import Path

SAMPLE_NOTE = "【示例文档】本文件为 PolicyKB 示例语料，内容据公开政策改写，部分细节为虚构，仅供演示。"

PILOT_PLAN_TITLE = (
    "教育部 国家发展改革委 财政部 市场监管总局关于印发"
    "《关于在院校实施“学历证书+若干职业技能等级证书”制度试点方案》的通知"
)
PILOT_PLAN_NAME = "关于在院校实施“学历证书+若干职业技能等级证书”制度试点方案"
MEASURES_TITLE = "职业技能等级证书管理办法（试行）"

# ---------------------------------------------------------------------------------------
# 1. notices/1x_pilot_plan.docx — 教职成〔2019〕6号, 2019年4月4日
# Blocks are (kind, text); kind "table" carries rows instead of text.
# ---------------------------------------------------------------------------------------

PILOT_PLAN_TABLE = [
    ("试点证书领域", "培训评价组织", "首批试点院校数"),
    ("建筑信息模型（BIM）", "廊坊市中科建筑产业化创新研究中心", "300所"),
    ("Web前端开发", "工业和信息化部教育与考试中心", "260所"),
    ("物流管理", "北京中物联物流采购培训中心", "280所"),
    ("老年照护", "北京中福长者文化科技有限公司", "220所"),
    ("汽车运用与维修", "北京中车行高新技术有限公司", "240所"),
]

PILOT_PLAN_BLOCKS: list[tuple[str, object]] = [
    ("title", PILOT_PLAN_TITLE),
    ("docno", "教职成〔2019〕6号"),
    ("body0", "各省、自治区、直辖市教育厅（教委）、发展改革委、财政厅（局）、市场监管局（厅、委），"
              "新疆生产建设兵团教育局、发展改革委、财政局、市场监管局："),
    ("body", "为贯彻落实《国家职业教育改革实施方案》，教育部、国家发展改革委、财政部、市场监管总局"
             f"研究制定了《{PILOT_PLAN_NAME}》，现印发给你们，请结合本地实际认真组织实施。"),
    ("right", "教育部　国家发展改革委　财政部　市场监管总局"),
    ("right", "2019年4月4日"),
    ("heading", PILOT_PLAN_NAME),
    ("body", "为深化复合型技术技能人才培养培训模式改革，决定在职业院校、应用型本科高校启动"
             "“学历证书+若干职业技能等级证书”（以下简称1+X证书）制度试点工作。方案如下。"),
    ("section", "一、指导思想"),
    ("body", "以习近平新时代中国特色社会主义思想为指导，全面贯彻党的教育方针，坚持以学习者为中心，"
             "把学历证书与职业技能等级证书结合起来，鼓励学生在获得学历证书的同时，取得多类职业技能"
             "等级证书，拓展就业创业本领，缓解结构性就业矛盾。"),
    ("section", "二、主要目标"),
    ("body", "自2019年起，在部分地区启动1+X证书制度试点，首批在建筑信息模型（BIM）、Web前端开发、"
             "物流管理、老年照护、汽车运用与维修等5个职业技能领域开展（见表1）。到2020年，试点院校"
             "和培训评价组织的工作机制基本建立，证书标准与专业教学标准有效衔接；在此基础上逐步扩大"
             "试点领域和院校范围。"),
    ("caption", "表1　首批试点证书领域及培训评价组织"),
    ("table", PILOT_PLAN_TABLE),
    ("section", "三、主要内容"),
    ("body", "（一）明确证书性质。职业技能等级证书即1+X证书中的X证书，是毕业生、社会成员职业技能"
             "水平的凭证，分为初级、中级、高级三个等级。职业技能等级证书由培训评价组织颁发：培训评价"
             "组织按照相关规范组织考核，对考核合格者颁发相应等级的证书。"),
    ("body", "（二）遴选培训评价组织。培训评价组织是职业技能等级证书及标准的建设主体，对证书质量和"
             "声誉负总责。教育部、人力资源社会保障部按照相关规则，以社会化机制公开招募并择优遴选"
             "培训评价组织，遴选结果向社会公布，并实行动态调整。"),
    ("body", "（三）推进书证融通。试点院校要将证书培训内容有机融入专业人才培养方案，优化课程设置和"
             "教学内容，统筹教学组织与实施，深化教学方式方法改革，避免重复培训。"),
    ("body", "（四）建设学分银行。依托国家开放大学建设职业教育国家学分银行，对学历证书和职业技能等级"
             "证书所体现的学习成果进行登记和存储，计入个人学习账号，探索实现不同类型学习成果的认定、"
             "积累和转换。"),
    ("section", "四、组织实施"),
    ("body", "各地教育、发展改革、财政、市场监管部门要加强协同，把试点工作纳入本地职业教育改革的重点"
             "任务。中央财政通过现有资金渠道对试点工作予以支持。市场监管部门依法加强对培训评价组织"
             "收费等行为的监管。"),
    ("note", SAMPLE_NOTE),
]

# ---------------------------------------------------------------------------------------
# 2. rules/certificate_management_measures.pdf — 教职成厅〔2019〕3号, 2019年12月10日
# ---------------------------------------------------------------------------------------

MEASURES_BLOCKS: list[tuple[str, str]] = [
    ("title", MEASURES_TITLE),
    ("center", "教职成厅〔2019〕3号"),
    ("center", "教育部办公厅2019年12月10日印发"),
    ("chapter", "第一章　总则"),
    ("article", "第一条　为规范职业技能等级证书的标准开发、考核评价、证书颁发和监督管理，保障1+X证书"
                "制度试点工作规范有序开展，根据《关于在院校实施“学历证书+若干职业技能等级证书”制度"
                "试点方案》（教职成〔2019〕6号）等有关规定，制定本办法。"),
    ("article", "第二条　本办法所称职业技能等级证书（以下简称证书），是指培训评价组织依据职业技能等级"
                "标准，对学习者的职业技能水平进行考核评价后，向考核合格者出具的凭证，即1+X证书制度中"
                "的X证书。"),
    ("article", "第三条　本办法适用于参与1+X证书制度试点的培训评价组织、试点院校，以及参加证书考核的"
                "在校学生和社会学习者。"),
    ("article", "第四条　教育部负责证书制度试点工作的统筹规划、综合协调和宏观管理，会同有关部门制定"
                "相关政策。省级教育行政部门负责本行政区域内试点工作的组织实施和监督检查。"),
    ("chapter", "第二章　培训评价组织"),
    ("article", "第五条　培训评价组织应当是在中华人民共和国境内依法登记的法人单位，具有与所开发证书相"
                "适应的专业能力、行业影响力和组织实施能力，近三年内无违法违规记录，能够独立承担证书"
                "质量和声誉的主体责任。"),
    ("article", "第六条　教育部、人力资源社会保障部按照公开、公平、择优的原则，通过社会化机制遴选培训"
                "评价组织，遴选结果向社会公布。培训评价组织名单实行动态调整。"),
    ("article", "第七条　培训评价组织负责开发职业技能等级标准，建设相应的培训资源，组织实施考核评价，"
                "并对考核结果和证书质量负责。职业技能等级标准应当对接国家职业标准，吸收行业企业的新"
                "技术、新工艺、新规范，并向社会公开。"),
    ("article", "第八条　培训评价组织应当按照价格主管部门的有关规定合理确定考核收费标准并向社会公示，"
                "不得以任何名义额外收取费用，不得将参加培训作为参加考核的前置条件。存在弄虚作假、违规"
                "收费等情形的，由教育部责令整改；情节严重的，取消其培训评价组织资格。"),
    ("chapter", "第三章　证书颁发与管理"),
    ("article", "第九条　证书由培训评价组织颁发。学习者参加考核且成绩合格的，由培训评价组织按照相应"
                "等级颁发证书；试点院校及其他任何单位不得自行颁发或者变相颁发证书。"),
    ("article", "第十条　证书分为初级、中级、高级三个等级，各等级依次递进，高级别涵盖低级别的职业技能"
                "要求。"),
    ("article", "第十一条　证书应当载明持证人姓名、身份证件号码、证书名称、证书等级、证书编号、颁证"
                "机构、颁证日期和有效期等信息，并加盖培训评价组织印章。证书实行全国统一编号。"),
    ("article", "第十二条　证书有效期为三年，自颁证之日起计算。有效期届满前，持证人可以向原颁证的培训"
                "评价组织申请复核；复核合格的，换发新证书；复核不合格或者逾期未申请的，证书自动失效。"
                "持证人和用人单位可以通过职业技能等级证书信息管理服务平台查询证书的真伪、等级和有效期。"),
    ("article", "第十三条　培训评价组织应当自颁证之日起30个工作日内，将证书信息上传至职业技能等级证书"
                "信息管理服务平台，证书信息同步纳入职业教育国家学分银行，作为学习成果认定、积累和转换"
                "的依据。任何单位和个人不得伪造、变造、买卖证书。"),
    ("chapter", "第四章　附则"),
    ("article", "第十四条　本办法自2020年1月1日起施行。"),
    ("article", "第十五条　本办法由教育部负责解释。"),
    ("note", SAMPLE_NOTE),
]

# ---------------------------------------------------------------------------------------
# 3. notices/production_education_notice.txt (UTF-8) — 教职成〔2020〕1号, 2020年1月15日
# ---------------------------------------------------------------------------------------

PRODUCTION_EDUCATION_TXT = f"""关于公布首批产教融合型企业和产教融合建设试点单位的通知
教职成〔2020〕1号

各省、自治区、直辖市教育厅（教委）、财政厅（局）、发展改革委，新疆生产建设兵团教育局、财政局、发展改革委：

为贯彻落实《国务院办公厅关于深化产教融合的若干意见》和《国家职业教育改革实施方案》，推动形成产教融合、校企合作的良好格局，教育部、财政部、国家发展改革委组织开展了首批产教融合型企业和产教融合建设试点单位的遴选工作。经地方推荐、专家评审和网上公示，现将有关事项通知如下。

一、公布首批名单
确定首批产教融合型企业和产教融合建设试点单位（名单见附件）。入选企业和单位所在地要及时将名单向社会公开，接受社会监督。

二、发挥示范带动作用
入选企业要深度参与职业院校人才培养，在专业设置、课程开发、实习实训和教师培养等方面与院校开展实质性合作。鼓励入选企业按照《{PILOT_PLAN_NAME}》（教职成〔2019〕6号）的要求，参与职业技能等级标准开发，申报成为培训评价组织，或者与培训评价组织合作开展1+X证书制度试点。

三、落实组合式激励政策
对入选企业，按规定落实“金融+财政+土地+信用”组合式激励政策。产教融合型企业兴办职业教育的投资符合规定的，可按投资额的30%抵免该企业当年应缴的教育费附加和地方教育附加。各地要在项目安排、用地保障、信用评价等方面给予支持。

四、实行动态管理
产教融合型企业和建设试点单位实行动态管理，每三年开展一次复核评估。对复核评估不合格，或者出现重大违法违规行为的，取消其资格并向社会公布。

各地教育、财政、发展改革部门要加强协同配合，及时总结推广典型经验，有关情况及时报送教育部职业教育与成人教育司。

附件：首批产教融合型企业和产教融合建设试点单位名单（示例从略）

教育部　财政部　国家发展改革委
2020年1月15日

{SAMPLE_NOTE}
"""

# ---------------------------------------------------------------------------------------
# 4. notices/pilot_work_notice.html — 教职成厅函〔2020〕2号, 2020年1月20日
# The nav bar, breadcrumb, scripts, styles and footer are page chrome for ingest to strip.
# ---------------------------------------------------------------------------------------

PILOT_WORK_HTML = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>关于做好1+X证书制度试点工作的通知 - 示例政务网站</title>
<style>
  body {{ font-family: "SimSun", serif; margin: 0; }}
  nav a {{ margin: 0 1em; color: #fff; }}
  .article {{ width: 800px; margin: 2em auto; line-height: 2; }}
  .docno {{ text-align: center; }}
</style>
<script>
  var _hmt = _hmt || [];
  window.siteConfig = {{ channel: "policy", pageId: "1x-pilot-2020-2" }};
</script>
</head>
<body>
<nav class="topnav">
  <a href="/">首页</a><a href="/gk/">政务公开</a><a href="/zc/">政策文件</a><a href="/fw/">办事服务</a><a href="/hd/">互动交流</a>
</nav>
<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/zc/">政策文件</a> &gt; 通知公告</div>
<div class="article">
<h1>关于做好1+X证书制度试点工作的通知</h1>
<p class="docno">教职成厅函〔2020〕2号</p>
<p>各省、自治区、直辖市教育厅（教委），新疆生产建设兵团教育局，有关培训评价组织：</p>
<p>为贯彻落实《{PILOT_PLAN_NAME}》（教职成〔2019〕6号）和《{MEASURES_TITLE}》（教职成厅〔2019〕3号），进一步规范1+X证书制度试点工作，现就有关事项通知如下。</p>
<h2>一、规范考核组织实施</h2>
<p>（一）考核站点设置。培训评价组织应当依托试点院校设置考核站点。考核站点须具备与所考证书相适应的场地、设施设备和网络条件，每个考场至少配备2名经培训评价组织培训合格的考评人员。考核站点名单由培训评价组织报省级教育行政部门备案后向社会公布。</p>
<p>（二）考核过程管理。考核实行全过程记录，考核站点应当对考核过程进行视频监控，相关资料留存不少于一年。培训评价组织要加强巡考，发现违规行为的，应当及时处理并报告省级教育行政部门。</p>
<h2>二、做好证书信息管理</h2>
<p>（一）证书信息查询。证书颁发后，相关信息统一上传至职业技能等级证书信息管理服务平台。持证人、院校和用人单位可以登录该平台查询证书信息，培训评价组织不得另设证书查询渠道。</p>
<p>（二）信息安全。培训评价组织和试点院校要严格保护考生个人信息，不得泄露或者用于试点工作以外的用途。</p>
<h2>三、规范考核收费</h2>
<p>（一）试点院校在校生参加试点证书考核的费用，从中央财政奖补资金和地方相关经费中统筹安排，不得向学生另行收取。</p>
<p>（二）社会学习者参加考核的，按照培训评价组织公示的收费标准缴纳费用。培训评价组织不得强制捆绑培训、教材等收费项目。</p>
<h2>四、工作要求</h2>
<p>各地要将试点工作纳入职业教育重点工作统筹推进，加强对考核组织、证书管理和收费行为的监督检查，有关问题及时报告教育部职业教育与成人教育司。</p>
<p class="sign">教育部办公厅</p>
<p class="date">2020年1月20日</p>
<p class="note">{SAMPLE_NOTE}</p>
</div>
<footer>
  <a href="/map/">网站地图</a> | <a href="/contact/">联系我们</a> | 版权所有：示例政务网站
</footer>
<script>
  document.querySelectorAll("nav a").forEach(function (a) {{ a.setAttribute("target", "_self"); }});
</script>
</body>
</html>
"""

# ---------------------------------------------------------------------------------------
# 5. papers/1x_pilot_review.md — cites all four notices; 教职成[2019]6号 with square brackets
# ---------------------------------------------------------------------------------------

PILOT_REVIEW_MD = f"""# 1+X证书制度试点的政策脉络与实施评述

作者：示例作者（示例职业技术学院）

**摘要**：2019年4月，教育部等四部门印发《{PILOT_PLAN_NAME}》（教职成[2019]6号），1+X证书制度试点由此启动。本文梳理试点方案及其配套文件的主要内容，总结首批试点的进展，分析书证融通、标准衔接和校企协同方面存在的问题，并提出改进建议。

**关键词**：1+X证书制度；职业技能等级证书；培训评价组织；学分银行

## 一、政策脉络

试点方案（教职成[2019]6号）确立了试点的总体框架：把学历证书与职业技能等级证书结合起来，由培训评价组织作为证书和标准的建设主体，并以国家学分银行支撑学习成果的认定、积累和转换。此后，《{MEASURES_TITLE}》（教职成厅〔2019〕3号）对标准开发、考核评价和监督管理作出了系统规定；《关于做好1+X证书制度试点工作的通知》（教职成厅函〔2020〕2号）进一步细化了考核组织、信息管理和收费要求；《关于公布首批产教融合型企业和产教融合建设试点单位的通知》（教职成〔2020〕1号）则鼓励产教融合型企业参与标准开发和证书试点。四份文件共同构成了试点的制度基础。

## 二、试点进展与成效

一是类型教育特色更加鲜明。试点院校普遍修订了专业人才培养方案，把证书标准中的技能要求融入课程体系，课堂教学与岗位要求的距离明显缩小。

二是校企合作更加深入。行业龙头企业通过参与标准开发和实训基地建设，把新技术、新工艺、新规范带进课堂，企业参与人才培养的积极性有所提高。

三是学习成果互认开始起步。部分地区依托学分银行探索证书与课程学分之间的转换，为学生多样化成长提供了通道。

## 三、存在的问题

第一，院校之间资源不均衡，部分院校缺少具备证书培训能力的师资和实训条件。第二，部分证书的职业技能等级标准与专业教学标准衔接不够，培训内容与专业课程“两张皮”的现象仍然存在。第三，社会对证书的认可度有待提高，用人单位在招聘中使用证书的比例不高。

## 四、对策建议

一要加强统筹，构建政府主导、行业指导、院校实施、企业参与的工作机制；二要推进课证融通，梳理课程内容与证书标准的对应关系，将其作为修订人才培养方案的依据；三要完善多元评价，把过程性评价与终结性评价、校内考核与企业评价结合起来；四要加快学分银行建设，扩大证书与学历教育学分互认的范围。

## 参考文献

[1] 教育部，国家发展改革委，财政部，市场监管总局. 关于在院校实施“学历证书+若干职业技能等级证书”制度试点方案（教职成[2019]6号）[Z]. 2019.

[2] 教育部办公厅. 职业技能等级证书管理办法（试行）（教职成厅〔2019〕3号）[Z]. 2019.

[3] 教育部办公厅. 关于做好1+X证书制度试点工作的通知（教职成厅函〔2020〕2号）[Z]. 2020.

{SAMPLE_NOTE}
"""

# ---------------------------------------------------------------------------------------
# 6. laws/*_gbk.txt (GB18030) — a superseded 2018 办法 and its 2021 revision that repeals it
# ---------------------------------------------------------------------------------------

MEASURES_2018_TXT = f"""示例市职业教育促进办法
示政发〔2018〕8号
（2018年3月20日示例市人民政府印发）

第一章　总则

第一条　为了促进本市职业教育发展，培养高素质劳动者和技术技能人才，根据《中华人民共和国职业教育法》等法律、法规，结合本市实际，制定本办法。

第二条　本办法适用于本市行政区域内的职业学校教育和职业培训活动。

第三条　市教育行政部门负责本市职业教育工作的统筹规划和综合协调。人力资源社会保障、发展改革、财政等部门在各自职责范围内做好职业教育相关工作。

第二章　校企合作

第四条　鼓励企业与职业学校共建实习实训基地，开展订单培养和学徒制培养。企业可以派遣技术人员到职业学校担任兼职教师。

第五条　企业接收职业学校学生顶岗实习的，市财政按照每生每月200元的标准给予企业实习补贴，补贴期限最长不超过六个月。

第六条　职业学校组织学生顶岗实习，应当与实习单位签订实习协议，并为实习学生投保实习责任保险。实习单位不得安排学生从事高危作业。

第三章　保障措施

第七条　企业应当按照规定足额提取和使用职工教育经费，其中用于一线职工教育培训的比例不低于60%。

第八条　市、区人民政府应当安排职业教育专项经费，用于实训基地建设、教师培训和学生资助。

第四章　附则

第九条　各区人民政府可以根据本办法制定具体实施细则。

第十条　本办法自2018年5月1日起施行。

{SAMPLE_NOTE}
"""

MEASURES_2021_TXT = f"""示例市职业教育促进办法
示政发〔2021〕21号
（2021年7月15日示例市人民政府印发）

第一章　总则

第一条　为了推动本市职业教育高质量发展，培养高素质技术技能人才，根据《中华人民共和国职业教育法》和《国家职业教育改革实施方案》等规定，结合本市实际，制定本办法。

第二条　本办法适用于本市行政区域内的职业学校教育和职业培训活动。

第三条　市人民政府建立职业教育工作联席会议制度，统筹协调全市职业教育工作。市教育行政部门负责职业教育工作的统筹规划、综合协调和宏观管理；人力资源社会保障、发展改革、财政等部门在各自职责范围内做好相关工作。

第二章　校企合作与书证融通

第四条　鼓励企业与职业学校共建实习实训基地和产业学院，开展订单培养和现代学徒制培养。

第五条　企业接收职业学校学生岗位实习的，市财政按照每生每月300元的标准给予企业实习补贴，补贴期限最长不超过六个月。被认定为产教融合型企业的，按规定享受组合式激励政策。

第六条　职业学校组织学生岗位实习，应当与实习单位签订三方协议，并为实习学生投保实习责任保险。

第七条　职业学校应当按照1+X证书制度试点要求，将职业技能等级证书培训内容融入专业人才培养方案。学生取得的职业技能等级证书，可以按照规定在国家学分银行中认定和转换相应学分。

第三章　保障措施

第八条　企业应当按照规定足额提取和使用职工教育经费，其中用于一线职工教育培训的比例不低于60%。

第九条　市、区人民政府应当安排职业教育专项经费，用于实训基地建设、教师培训、1+X证书制度试点和学生资助。

第四章　附则

第十条　本办法自2021年9月1日起施行。2018年3月20日印发的《示例市职业教育促进办法》（示政发〔2018〕8号）同时废止。

{SAMPLE_NOTE}
"""

# ---------------------------------------------------------------------------------------
# 8. notices/certificate_measures_amendment.txt — 教职成厅〔2021〕5号: amends two clauses of the 办法
# (a "revises" relation), and cites 国发〔2019〕4号, which the sample corpus does not hold.
# ---------------------------------------------------------------------------------------

AMENDMENT_TXT = f"""教育部办公厅关于修改《{MEASURES_TITLE}》的通知
教职成厅〔2021〕5号

各省、自治区、直辖市教育厅（教委），各培训评价组织：

为深入贯彻《国家职业教育改革实施方案》（国发〔2019〕4号），提高证书信息管理效率，经研究，决定对《{MEASURES_TITLE}》（教职成厅〔2019〕3号）作如下修改：

一、将第十三条中的“30个工作日”修改为“15个工作日”。

二、第十一条增加一款，作为第二款：“证书可以采用纸质证书或者电子证书形式，电子证书与纸质证书具有同等效力。”

本通知自2021年5月1日起施行。

教育部办公厅
2021年4月6日

{SAMPLE_NOTE}
"""

# metadata.csv: what a person knows and the text does not say (the paper's author and date).
# Columns are those of kb.register.read_sidecar; Chinese headers work too.
SIDECAR_CSV = """file,issuer,date
papers/1x_pilot_review.md,示例职业技术学院,2021-06-01
"""

# Relative path -> text for the plain-text formats, with the encoding each is written in.
TEXT_FILES: dict[str, tuple[str, str]] = {
    "notices/production_education_notice.txt": (PRODUCTION_EDUCATION_TXT, "utf-8"),
    "notices/pilot_work_notice.html": (PILOT_WORK_HTML, "utf-8"),
    "papers/1x_pilot_review.md": (PILOT_REVIEW_MD, "utf-8"),
    "laws/vocational_education_measures_2018_gbk.txt": (MEASURES_2018_TXT, "gb18030"),
    "laws/vocational_education_measures_2021_gbk.txt": (MEASURES_2021_TXT, "gb18030"),
    "notices/certificate_measures_amendment.txt": (AMENDMENT_TXT, "utf-8"),
}
DOCX_FILE = "notices/1x_pilot_plan.docx"
PDF_FILE = "rules/certificate_management_measures.pdf"
SIDECAR_FILE = "metadata.csv"
DOCUMENT_FILES: tuple[str, ...] = (DOCX_FILE, PDF_FILE, *TEXT_FILES)
ALL_FILES: tuple[str, ...] = (*DOCUMENT_FILES, SIDECAR_FILE)

FIXED_ZIP_TIME = (2019, 4, 4, 0, 0, 0)


def build_docx() -> bytes:
    """Render the 试点方案 notice as DOCX bytes, with fixed core properties and zip times."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "FangSong"
    normal.font.size = Pt(16)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "仿宋")

    for kind, content in PILOT_PLAN_BLOCKS:
        if kind == "table":
            rows = content
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, cell_text in enumerate(row):
                    table.cell(r, c).text = cell_text
            continue
        if kind == "title":
            para = doc.add_paragraph(content, style="Title")
        elif kind == "heading":
            para = doc.add_paragraph(content, style="Heading 1")
        elif kind == "section":
            para = doc.add_paragraph(content, style="Heading 2")
        else:
            para = doc.add_paragraph(content)
        if kind in ("title", "docno", "heading", "caption"):
            para.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif kind == "right":
            para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        elif kind == "body":
            para.paragraph_format.first_line_indent = Pt(32)

    props = doc.core_properties
    props.title = PILOT_PLAN_TITLE
    props.subject = "教职成〔2019〕6号"
    props.author = "PolicyKB 示例语料"
    props.last_modified_by = "PolicyKB"
    props.comments = SAMPLE_NOTE
    props.keywords = "1+X证书;职业技能等级证书;培训评价组织"
    props.revision = 1
    props.created = datetime(2019, 4, 4)
    props.modified = datetime(2019, 4, 4)
    props.last_printed = datetime(2019, 4, 4)

    raw = io.BytesIO()
    doc.save(raw)
    return _fix_zip_times(raw.getvalue())


def _fix_zip_times(data: bytes) -> bytes:
    """Rewrite a zip with fixed member timestamps; python-docx stamps the current time."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def build_pdf() -> bytes:
    """Render the 管理办法 as a multi-page A4 PDF with a running header and page-number footer."""
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Spacer

    font = "STSong-Light"
    pdfmetrics.registerFont(UnicodeCIDFont(font))
    width, height = A4

    def header(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 10)
        canvas.drawCentredString(width / 2, height - 1.6 * cm, MEASURES_TITLE)
        canvas.line(2.6 * cm, height - 1.8 * cm, width - 2.6 * cm, height - 1.8 * cm)
        canvas.restoreState()

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(font, 11)
        canvas.drawCentredString(width / 2, 1.4 * cm, f"— {doc.page} —")
        canvas.restoreState()

    base = dict(fontName=font, fontSize=14, leading=25, wordWrap="CJK")
    styles = {
        "title": ParagraphStyle("title", **{**base, "fontSize": 20, "leading": 32}, alignment=TA_CENTER),
        "center": ParagraphStyle("center", **base, alignment=TA_CENTER),
        "chapter": ParagraphStyle("chapter", **base, alignment=TA_CENTER, spaceBefore=8, spaceAfter=4),
        "article": ParagraphStyle("article", **base, firstLineIndent=28),
        "note": ParagraphStyle("note", **{**base, "fontSize": 11, "leading": 18}, spaceBefore=12),
    }
    story = []
    for kind, text in MEASURES_BLOCKS:
        story.append(Paragraph(text, styles[kind]))
        if kind == "title":
            story.append(Spacer(1, 6))

    out = io.BytesIO()
    doc = BaseDocTemplate(
        out, pagesize=A4, invariant=1,
        leftMargin=2.6 * cm, rightMargin=2.6 * cm, topMargin=2.6 * cm, bottomMargin=2.4 * cm,
        title=MEASURES_TITLE, author="教育部办公厅（PolicyKB 示例）", subject="教职成厅〔2019〕3号",
        creator="PolicyKB scripts/make_sample_corpus.py",
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=header, onPageEnd=footer)])
    doc.build(story)
    return out.getvalue()


def write_corpus(out_dir: Path) -> list[Path]:
    """Write every sample document under out_dir and return the written paths."""
    contents: dict[str, bytes] = {DOCX_FILE: build_docx(), PDF_FILE: build_pdf()}
    for rel, (text, encoding) in TEXT_FILES.items():
        contents[rel] = text.encode(encoding)
    contents[SIDECAR_FILE] = SIDECAR_CSV.encode("utf-8")
    written = []
    for rel in ALL_FILES:
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(contents[rel])
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "corpus"
    for path in write_corpus(out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
