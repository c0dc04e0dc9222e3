"""Word lists for the triage stage, kept apart so the scorer stays readable.

Everything here is plain data. `notifier.triage.rules` compiles it on first use, so
importing either module costs nothing.
"""

# Canonical display name -> spellings. Each spelling is matched as a whole word,
# case-insensitively; those of 5+ letters also match small misspellings (see
# rules._close_enough). Display names are what an InfoLine nurse reads.
DRUGS: dict[str, tuple[str, ...]] = {
    "Velcade": ("velcade", "bortezomib"),
    "Revlimid": ("revlimid", "lenalidomide"),
    "Pomalyst": ("pomalyst", "imnovid", "pomalidomide"),
    "Thalomid": ("thalomid", "thalidomide"),
    "Kyprolis": ("kyprolis", "carfilzomib"),
    "Ninlaro": ("ninlaro", "ixazomib"),
    "Darzalex": ("darzalex", "daratumumab"),
    "Sarclisa": ("sarclisa", "isatuximab"),
    "Empliciti": ("empliciti", "elotuzumab"),
    "Xpovio": ("xpovio", "selinexor"),
    "Blenrep": ("blenrep", "belantamab"),
    "Abecma": ("abecma", "ide-cel"),
    "Carvykti": ("carvykti", "cilta-cel"),
    "Tecvayli": ("tecvayli", "teclistamab"),
    "Elrexfio": ("elrexfio", "elranatamab"),
    "Talvey": ("talvey", "talquetamab"),
    "Lynozyfic": ("lynozyfic", "linvoseltamab"),
    "dexamethasone": ("dexamethasone", "dex", "decadron"),
    "melphalan": ("melphalan", "alkeran"),
    "cyclophosphamide": ("cyclophosphamide", "cytoxan"),
    "Zometa": ("zometa", "zoledronic"),
    "Aredia": ("aredia", "pamidronate"),
    "Xgeva": ("xgeva", "denosumab"),
    "Venclexta": ("venclexta", "venetoclax"),
    "prednisone": ("prednisone", "prednisolone"),
    # Regimens are named by their initials: bortezomib-lenalidomide-dex and kin.
    "a combination regimen": ("vrd", "rvd", "krd", "drd", "dvrd", "dara-vrd", "cybord", "vcd"),
}

# Misspellings that are common in real comments but further than the edit
# distance allows ("velcaid" is two edits from "velcade").
KNOWN_MISSPELLINGS: dict[str, str] = {
    "velcaid": "Velcade",
    "velcad": "Velcade",
    "revlimed": "Revlimid",
    "darzelex": "Darzalex",
    "pomolyst": "Pomalyst",
}

# Clinical topics: label shown to the nurse -> regex (matched on lower-cased text).
CLINICAL: dict[str, str] = {
    "relapse": r"\brelaps\w*|\brefractory\b|\bcame back\b|\bprogress(ed|ing|ion)\b",
    "remission": r"\bremission\b|\bvgpr\b|\bcomplete response\b|\bmrd\b",
    "neuropathy": r"\bneuropath\w*|pins and needles|\bnumb(ness)?\b|\btingl\w*",
    "M-spike/paraprotein": r"\bm[- ]?spike\b|\bparaprotein\b|\bm[- ]?protein\b|\bife\b",
    "light chains": r"\blight[- ]chains?\b|\bflc\b|\bkappa\b|\blambda\b",
    "bone marrow biopsy": r"\bbone marrow\b|\bbiopsy\b|\bplasma cells?\b",
    "scans": r"\bpet\b|\bmri\b|\bct scan\b|\bx-?rays?\b|\blesions?\b|\blytic\b",
    "blood results": (
        r"\bplatelets?\b|\bha?emoglobin\b|\bcreatinine\b|\bcalcium\b|\bhypercalca?emia\b"
        r"|\bigg\b|\biga\b|\begfr\b|\bbeta[- ]?2\b|\bldh\b|\b(blood )?counts?\b"
        r"|\bimmunoglobulin\b|\bivig\b|\bbloods\b|\bbloodwork\b|\bnumbers\b"
    ),
    "side effects": (
        r"\bside[- ]effects?\b|\brash\b|\bdiarrh?o?ea\b|\bconstipat\w*|\bnause\w*"
        r"|\bfatigue\b|\btired(ness)?\b|\bexhaust\w*|\bblood clots?\b|\binfections?\b"
        r"|\bpneumonia\b|\bshingles\b|\bblurr?(ed|y) vision\b|\bneurotoxicity\b"
        r"|\bcytokine release\b|\bcrs\b|\binsomnia\b|\bswollen\b|\bswelling\b"
        r"|\bblood pressure\b|\bhair loss\b|\blosing (her|his|my) hair\b|\bdepress\w*"
        r"|\bappetite\b|\btaste\b|\bconfus\w*|\bjaw\b|\bvision\b|\bcataracts?\b"
    ),
    "bone pain/fractures": r"\bbone pain\b|\bfractures?\b|\bback (pain|hurts)\b|\bspine\b|\bpain\b",
    "kidney function": r"\bkidneys?\b|\brenal\b|\bdialysis\b",
    "diagnosis/risk": (
        r"\bsmou?ldering\b|\bmgus\b|\bamyloid\w*|\bplasmacytoma\b|\bhigh[- ]risk\b"
        r"|\bdel ?17p\b|\bt\(\d+;\d+\)|\btranslocation\b|\bstage \d\b|\bstage (i|ii|iii)\b"
    ),
    "treatment": (
        r"\bdoses?\b|\bdosage\b|\b\d+ ?mg\b|\bcycles?\b|\binfusions?\b|\bchemo\w*"
        r"|\bradiation\b|\bradiotherapy\b|\bkyphoplasty\b|\btransfusion\b|\bregimen\b"
        r"|\bvaccin\w*|\bflu shot\b|\bbooster\b|\bsupplements?\b|\bclinical trials?\b"
        r"|\btreatments?\b|\bmedication\b|\baciclovir\b|\bacyclovir\b|\baspirin\b"
    ),
    "stem cell transplant": (
        r"\bstem[- ]cells?\b|\btransplant\w*|\basct\b|\bauto[- ]?transplant\b|\bsct\b"
    ),
    "CAR-T": r"\bcar[- ]?t\b",
    "bispecifics": r"\bbispecifics?\b",
    "maintenance": r"\bmaintenance\b",
}

# A question that names the disease and nothing else is too vague to count as
# much, but it still counts for something.
DISEASE = r"\bmyeloma\b|\bcancer\b"

# Phrases that ask for advice about a particular person's care, with or without
# a question mark.
CARE_ASKS = (
    r"\bshould (i|we|he|she|they|my \w+)\b",
    r"\bdo(es)? (i|he|she|we|they) need\b",
    r"\b(is|was|are) (it|this|that|these|they) (normal|usual|common|safe|ok|okay|true"
    r"|possible|necessary|worth|the)\b",
    r"\bthats (normal|usual|common|ok)\b",
    r"\bis it (safe|ok|okay|normal)\b",
    r"\bcan (i|he|she|we|they|my \w+)\b",
    r"\bwill (it|this|that|they|i|he|she) (go away|come back|get better|improve|work)\b",
    r"\bdoes (this|that|it) mean\b",
    r"\bwhat does (this|that|it) mean\b",
    r"\bwhat (are|is) the (options|chances|risks?)\b",
    r"\bhow long (until|before|does|will|do|is|should)\b",
    r"\bwhat (should|can) (i|we)\b",
    r"\bwhat (else )?can be done\b",
    r"\bis there anything\b",
    r"\bhow can that be\b",
    r"\bwould (a|it|more|the)\b",
)

# Indirect ways of asking; the comment may contain no question mark at all.
INDIRECT_ASKS = (
    r"\b(just )?want(ed)? to know\b",
    r"\bi'?d like to know\b",
    r"\bwonder(ed|ing)? (if|whether)\b",
    r"\bany(one)? (advice|tips|suggestions|ideas|info|information|thoughts)\b",
    r"\bneed (some )?(advice|help)\b",
    r"\bplease help\b",
    r"\b(would )?appreciate any\b",
    r"\bgrateful for any\b",
    r"\b(can|could) (someone|somebody|anyone|you) (tell|explain|help)\b",
    r"\banyone know\b",
    r"\bhas anyone\b",
    r"\bhelp (me )?understand\w*\b",
)

# Words that open a direct question even without a question mark...
AUXILIARY_OPENERS = r"is|are|does|do|did|can|could|should|would|will|has|have|am|was"
WH_OPENERS = r"what|how|when|why|where|which|who"
# ...when followed by one of these (so "Has been a hard year" is not a question).
AUXILIARY_SUBJECTS = (
    r"i|it|this|that|there|he|she|we|they|you|my|his|her|a|an|the|anyone|someone"
    r"|anybody|somebody|these|those|our|mine|any"
)

# A question about the blog, events, donations or research news: these go to
# the moderators, never to the InfoLine.
GENERAL_TOPICS = (
    r"\bwebinars?\b|\bseminars?\b|\bconferences?\b|\bsummit\b|\bevents?\b|\bgala\b"
    r"|\bwalk\b|\b5k\b|\bdonat\w*|\bfundrais\w*|\bvolunteer\w*|\bnewsletter\b"
    r"|\bsubscri\w*|\bunsubscri\w*|\bemail address\b|\bwebsite\b|\bblog\b|\brss\b"
    r"|\b(this|the|a|your|next|new|old) (blog )?posts?\b|\barticles?\b|\bslides\b"
    r"|\bvideo\b|\brecording\b|\bbooklets?\b|\bhandbook\b|\bfacebook\b|\bresearch\w*"
    r"|\bstudy\b|\bgrants?\b|\bfunds?\b|\bfunding\b|\bpublished\b|\bauthor\b"
    r"|\bfoundation\b|\bsupport group\b|\bin (german|spanish|french|italian)\b"
    r"|\b(would|could|can|will|do) you (be interested|write|cover|add|post|publish"
    r"|share|have|send|make|update|offer|accept)\b"
)

# Questions that are sociable rather than asking anything ("anyone else?").
SOCIAL_ASKS = r"\b(anyone|anybody|who) else\W*$|^(me|anybody) too\b"

FIRST_PERSON = r"\b(i|i'm|im|i've|ive|me|my|mine|myself)\b"
RELATIVES = (
    r"\b(my|our) (mother[- ]in[- ]law|father[- ]in[- ]law|husband|wife|partner|father|dad"
    r"|daddy|mother|mom|mum|mommy|mummy|brother|sister|son|daughter|uncle|aunt"
    r"|grandfather|grandmother|grandma|grandpa|granddad|nan|friend|fianc[eé]e?)('?s)?\b"
    r"|\b(husband|wife)'?s\b|\b(dad|mum|mom)'s\b"
)

THANKS = (
    r"\bthank(s| you)\b|\bgrateful\b|\bbless\w*|\bpray\w*|\bhope\w*|\bkeep fighting\b"
    r"|\bnever give up\b|\bdon'?t give up\b|\bhang in there\b|\bcongratulations\b"
    r"|\bgreat (post|article)\b|\bwonderful\b|\brooting\b|\bproud\b|\bgrazie\b"
    r"|\bgracias\b|\bmerci\b|\bdanke\b|\bspasibo\b|спасибо|شكرا|ありがとう|❤|🙏|💪"
)

# Spam: each phrase counts once; a link counts once. Two or more is spam.
SPAM_PHRASES: dict[str, str] = {
    '"cheap"': r"\bcheap\b",
    '"buy"': r"\bbuy\b",
    '"no prescription"': r"\b(no|without( a)?) (prescription|rx|doctor)\b|\bno doctor needed\b",
    '"discount"': r"\bdiscount\w*|(?<!\d)\d+ ?% off\b",
    '"click here"': r"\bclick here\b",
    '"order now"': r"\border (now|online)\b",
    '"lowest price"': r"\b(lowest|best) prices?\b|\bprice guaranteed\b",
    '"fast shipping"': r"\b(fast|worldwide|free) (worldwide )?(shipping|delivery)\b",
    '"generic"': r"\bgeneric\b",
    "an unrelated sales pitch": (
        r"\bcasino\b|\bloans?\b|\bviagra\b|\bcialis\b|\bfollowers\b|\bseo\b|\bweb design\b"
    ),
}
# Repeats are bounded ({1,63}: a domain label's length) and digit runs anchored, so
# a long hostile "word" costs linear time, not quadratic (a 20,000-character
# "ab-ab-..." took 6 s a comment, enough to stall a poll).
LINK = r"https?://|\bwww\.|<a\s+href|\b[\w-]{1,63}\.(com|net|org|example|biz|info|ru)\b"
SPAMMY_AUTHOR = r"pharma|pill|\brx|meds|deals|casino|seo|loan|cheap|price|shop"
