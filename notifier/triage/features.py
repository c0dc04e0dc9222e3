"""What the triage model sees in a comment: n-grams of normalised text and a few signals.

Training (``notifier.triage.train``) and scoring (``notifier.triage.model``) both call
`extract`, so the two can never disagree about a feature. Pure Python, no I/O.

The text is lower-cased and its accents are folded ("medicación" and "medicacion" are
one word), then seen three ways: words, pairs of words, and 3-5 letter pieces of each
word (which carry misspellings, plurals and the four languages' shared stems, e.g.
"transplant"/"trasplante"/"transplante"). Each of those views is scaled to unit length
so a long comment does not outweigh a short one. On top come hand-written signals
(question forms in English, Spanish, Portuguese and French, first person, relatives,
drug names and clinical topics from today's lexicon), each worth 1.

Every feature remembers the words it came from, so a score can be explained with the
comment's own phrases rather than feature ids.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass

from notifier.triage import lexicon as lex
from notifier.triage.rules import drug_for

__all__ = ["SIGNAL_WORDS", "Features", "extract", "fold"]

# Enough for any real comment; bounds the work a hostile megabyte body can cause.
MAX_CHARS = 6_000
CHAR_SIZES = (3, 4, 5)

_TAG = re.compile(r"<[^>]{0,200}>")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|[\n\r]+|(?<=[?!])(?=[^\s?!.])")
# ¿ and ¡ open a Spanish question or exclamation; Arabic and full-width marks ask too.
_MARKS = str.maketrans({"؟": "?", "？": "?", "’": "'", "‘": "'", "¡": " "})


def fold(text: str) -> str:
    """Lower-case, drop accents, keep letters of every script: "Medicación" -> "medicacion"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _any(words: str) -> re.Pattern[str]:
    return re.compile(rf"(?:^|\b)(?:{words})\b")


# Question openers at the start of a sentence, by language (matched on folded text).
_OPENERS = (
    # English: auxiliaries followed by a subject, and wh-words.
    r"(?:is|are|does|do|did|can|could|should|would|will|has|have|am|was|r|u)"
    r"\s+(?:i|it|this|that|there|he|she|we|they|you|u|my|his|her|a|an|the|anyone|someone"
    r"|anybody|these|those|our|any|people|patients)"
    r"|what|whats|how|when|why|where|which|who|whom"
    # Spanish and Portuguese (folded: "que", "como", "cuanto"...).
    r"|que|qual|quais|cual|cuales|como|cuando|quando|cuanto|cuanta|quanto|quanta|donde"
    r"|onde|quien|quem|por que|porque|es normal|e normal|se puede|pode|posso|puedo"
    r"|debo|devo|debemos|devemos|hay|tem|existe|hace falta|vale la pena|oq|k significa"
    # French.
    r"|est-ce|est ce|qu'est-ce|quel|quelle|quels|quelles|comment|quand|combien|pourquoi"
    r"|ou|qui|peut-on|puis-je|dois-je|faut-il|est-il|est-elle|y a-t-il|c'est normal"
    r"|ca veut dire|on peut|je peux|il faut"
)
_OPENER = re.compile(
    rf"^(?:(?:hi|hello|hola|oi|ola|bonjour|salut|slt|ok|so|and|but|y|e|et)\W+)*(?:{_OPENERS})\b"
)
_INDIRECT = _any(
    r"wonder(?:ed|ing)? (?:if|whether|what|how|why)|want(?:ed)? to know|like to know|need to know"
    r"|any(?:one|body)? (?:know|advice|tips|suggestions|ideas|info|information)|has anyone"
    r"|can (?:someone|anyone|you) (?:tell|explain|help)|please help|help me understand"
    r"|trying to understand|need (?:some )?(?:advice|help|information)|looking for (?:advice"
    r"|information)"
    r"|quisiera saber|quiero saber|me gustaria saber|necesito saber|alguien sabe|me pregunto"
    r"|tengo dudas|necesito informacion|por favor ayuda|quisiera entender"
    r"|gostaria de saber|queria saber|quero saber|preciso saber|alguem sabe|me pergunto"
    r"|tenho duvida|preciso de informac\w+|me ajudem|queria entender"
    r"|je voudrais savoir|j'aimerais savoir|je me demande|quelqu'un sait"
    r"|je cherche des informations"
    r"|je ne sais pas si|aidez-moi|j'aimerais comprendre|vous savez si|savez-vous"
    # Doubt stated rather than asked: "not sure if I should worry", "tengo la duda de si".
    r"|not sure (?:if|whether|what|how)|find out (?:if|whether)|can'?t decide|keen to know"
    r"|worried (?:that|it|this|about)|does (?:it|that|this) matter|what now|worth (?:calling"
    r"|ringing|phoning|seeing|asking|mentioning)|is there (?:something|anything) (?:to|i|we)"
    r"|could (?:it|this|that) be|any ideas?|anyone else (?:had|get|got|have)"
    r"|la duda de si|tengo la duda|me quede con la duda|dudo (?:si|entre)|no se si"
    r"|estaba pensando si|me lo traduce|alguien me (?:explica|explique|diga)|tendra que ver"
    r"|sera normal|sera grave|me preocupa que|no entiendo (?:por que|que)"
    r"|ando a pensar se|nao sei se|sera que|tera a ver|tem a ver com|fico na duvida"
    r"|tenho a duvida|estou na duvida|me preocupa (?:que|se)|alguem me (?:explica|diga)"
    r"|dites-moi si|besoin d'eclaircissements?|je (?:ne )?suis pas (?:certaine?|sure?)"
    r"|savez vous|j'attends ou|est-ce grave|c'est lie|je m'inquiete|quelqu'un peut m'expliquer"
    r"|je comprends pas (?:pourquoi|ce que)"
)
_FIRST_PERSON = _any(
    r"i|i'm|im|i've|ive|me|my|mine|myself|we|our|us"
    r"|yo|mi|mis|me|nosotros|nuestro|nuestra|tengo|estoy"
    r"|eu|meu|minha|meus|minhas|nos|nosso|nossa|estou|tenho"
    r"|je|j'\w+|moi|mon|ma|mes|nous|notre"
)
_RELATIVE = _any(
    r"husband|wife|partner|father|dad|mother|mom|mum|brother|sister|son|daughter|uncle|aunt"
    r"|grandma|grandpa|grandad|granddad|grandmother|grandfather|mother-in-law|father-in-law"
    r"|marido|esposo|esposa|mujer|padre|papa|madre|mama|hermano|hermana|hijo|hija|abuela|abuelo"
    r"|tio|tia|suegro|suegra|pai|mae|irmao|irma|filho|filha|avo|sogro|sogra"
    r"|mari|femme|pere|mere|maman|frere|soeur|fils|fille|grand-mere|grand-pere|tante|oncle"
    r"|beau-pere|belle-mere|compagne|compagnon"
)
# Clinical words of Spanish, Portuguese and French (folded); English ones are the lexicon's.
_CLINICAL_OTHER = _any(
    r"fiebre|febre|fievre|dosis|dose|analisis|analitica|exame|exames|analyse|analyses|prise de sang"
    r"|plaquetas|plaquettes|hemoglobina|hemoglobine|neutrofilos|neutrophiles|creatinina|creatinine"
    r"|calcio|calcium|tratamiento|tratamento|traitement|quimio|chimio|quimioterapia|chimiotherapie"
    r"|trasplante|transplante|greffe|autogreffe|vacuna|vacina|vaccin|dolor|dor|douleur|mal au"
    r"|efectos? secundarios?|efeitos? colatera\w+|effets? secondaires?|medicacion|medicamento"
    r"|medicament|remedio|pastillas|comprimidos|comprimes|cachets|inyecci\w+|injec\w+|infusion"
    r"|perfusion|neuropatia|neuropathie|hormigueo|formigamento|fourmillements|mareo|tontura|vertige"
    r"|cansancio|cansaco|fatigue|biopsia|biopsie|mielograma|myelogramme|resonancia|ressonancia|irm"
    r"|cadenas ligeras|cadeias leves|chaines legeres|proteina m|componente monoclonal"
    r"|pic monoclonal"
    r"|recaida|rechute|remision|remissao|remission|rinones|rins|reins|huesos|ossos|lesiones|lesoes"
    r"|corticoides?|corticoide|cortisone|dexa|sangre|sangue|sang|diarrea|diarreia|diarrhee"
    r"|estrenimiento|prisao de ventre|constipation|nauseas|enjoo|nausees|hinchad\w+|inchad\w+"
    r"|gonfle\w*"
    r"|hematologo|hematologa|hematologista|hematologue|hemato|oncologo|oncologista|oncologue"
    r"|ensayo clinico|estudo clinico|essai clinique|car-t|mieloma|myelome"
    r"|aferesis|aferese|apherese|apheresis|premedicacion|premedicacao|premedication"
    r"|defensas|defesas|globulos|globules|leucocitos|leucocytes|tension arterial|pressao arterial"
    r"|pression arterielle|tension|cociente|rapport|antibiotico|antibiotique|antibiotiques"
    r"|scanner|escaner|tac|tomografia|radiografia|ecografia|echographie|pet-scan|petscan"
    # Everyday medicines and their forms, in any of the four languages.
    r"|fentanil\w*|fentanyl|morfin\w*|morphine|tramadol|paracetamol|ibuprof\w*|codein\w*"
    r"|oxycodon\w*|opioid\w*|opiace\w*|parches?|patch\w*|adesivos?|gelules?|capsulas?"
    r"|jarabe|xarope|sirop|pomada|creme|ondansetron|omeprazol\w*|valaciclovir|bactrim"
    r"|cotrimoxazol\w*|heparin\w*|heparin|apixaban|eliquis|rivaroxaban|xarelto|clexane"
    r"|enoxaparin\w*|insulin\w*|insuline|filgrastim|neupogen|g-csf|port-a-cath|picc"
    r"|cateter|catheter|chambre implantable"
    # Parts of the body and sensations patients ask about.
    r"|oido|ouvido|oreille|oreilles|sudor|sudores|suor|suores|sueurs?|sweats?|moretones"
    r"|hematomas?|bleus|ecchymoses?|tiritar|escalofrios|calafrios|frissons|shivers?"
    r"|shivering|ganglios?|ganglions?|higado|figado|foie|pulmon|pulmao|poumons?"
    r"|vomit\w*|vomissements?|mareo|mareos|me mareo|tonta|tonto|tete qui tourne|dormente"
    r"|dormencia|adormecid\w*|engourdi\w*|zumbido|acouphenes?|sarpullido|erupcion|manchas"
    r"|plaques rouges|boutons|coceira|comezon|picazon|demangeaisons|perf|suero|soro"
    # English everyday words for treatment and symptoms the old lexicon leaves out.
    r"|tablets?|pills?|meds|jabs?|injections?|steroids?|antibiotics?|temperature|temp|fever"
    r"|dizzy|dizziness|faint\w*|breathless\w*|cough\w*|bruis\w*|bleed\w*|itch\w*|rash\w*"
    r"|thirst\w*|wee|pee|peeing|swallow\w*|hearing|eyesight|forgetful"
)
# Asking for care in so many words: "is it normal", "should I", "who do I talk to".
_CARE_ASK = _any(
    r"should (?:i|we|he|she|they|my \w+)|is (?:it|this|that) (?:normal|safe|ok|okay|serious|urgent)"
    r"|is it an emergency|who (?:do|should) (?:i|we) (?:talk|speak|call|ask)|what (?:do|should"
    r"|can) (?:i|we) do"
    r"|do (?:i|we) need to|can (?:i|he|she|we) (?:take|have|eat|drink|get)|should i be worried"
    r"|es normal|es grave|es urgente|debo|deberia|debemos|que hago|que hacemos|a quien|con quien"
    r"|se puede|puedo tomar|tengo que preocuparme|debo preocuparme|hay que"
    r"|se pueden?|se podria|puedo|podria|podre|se puede hacer|es seguro|es peligroso"
    r"|e seguro|e perigoso|posso|poderia|pode-se|c'est dangereux|c'est sans danger|je pourrai"
    r"|is it safe|is it ok|is it okay|safe to|ok to|okay to"
    r"|e normal|e grave|e urgente|devo|deveria|devemos|o que (?:eu )?faco|o que fazemos|com quem"
    r"|a quem"
    r"|pode tomar|posso tomar|preciso ir|devo me preocupar"
    r"|c'est normal|c'est grave|c'est urgent|dois-je|faut-il|je dois|on doit|je fais quoi"
    r"|on fait quoi"
    r"|a qui|puis-je|peut-on|on peut|je peux prendre|faut-il s'inquieter"
)
_GENERAL = re.compile(
    lex.GENERAL_TOPICS
    + r"|\b(?:donar|donativo|donacion|doar|doacao|don|dons|boletin|enlace|lien|link|contrasena"
    r"|senha|mot de passe|foro|forum|webinario|webinaire|seminario|caminata|caminhada|marche"
    r"|gala|voluntari\w*|benevole|evento|evenement|grupo de apoyo|grupo de apoio"
    r"|justgiving|gofundme|testament|testamento|legs|legado|legacy|badges?|pins?|logo|posters?"
    r"|affiches?|cartaz|cartel|carteles|camisetas?|camisolas?|t-shirts?|tshirts?|merch"
    r"|registration|inscription|inscripcion|inscricao|taller|atelier|oficina|workshop"
    r"|trophy|trofeo|raffle|rifa|tombola|sorteo|sorteio|quermesse|kermesse|bake sale"
    r"|groupe de parole|investigacion|pesquisa|recherche)\b"
)
# Questions nobody expects an answer to, and answers to a quoted question.
_RHETORICAL = _any(
    r"what is it with|is there anything more|how is it that|am i the only one|just me"
    r"|soy (?:la|el) unic[oa]|sou (?:a|o) unic[oa]|juste moi|on peut rever|c'est moi ou"
    r"|who (?:would have|knew|else thinks)|what would i do without|isn'?t (?:it|this) (?:amazing"
    r"|incredible|ridiculous|great)|how lucky|could (?:this|it) get any worse|how did we ever"
    r"|quien iba a decir|que haria (?:yo )?sin|no es (?:increible|ridiculo|emocionante)"
    r"|como nos las|quem diria|o que eu faria sem|nao e (?:incrivel|ridicul\w+|emocionante)"
    r"|como a gente|qui aurait cru|qu'est-ce que je ferais sans|n'est-ce pas|c'est pas ridicule"
    r"|comment on faisait|peut-elle etre pire|puede empeorar|pode piorar"
)
_NURSES = _any(
    r"nurses?|infoline|help ?line|enfermer[ao]s?|enfermagem|infirmier\w*|infirmiere\w*"
    r"|linea de ayuda|linha de apoio|ligne d'ecoute"
)
# Telling one's story for others' sake: "sharing because it helped me", "for anyone newly
# diagnosed", "Q: ... A: ..." (the writer asks and answers).
_SHARING = _any(
    r"sharing (?:because|our|my|this|in case)|for anyone (?:who|newly|else|starting|worried)"
    r"|in case it helps|thought i'?d (?:post|share|update)|just (?:wanted|want) to share"
    r"|posting (?:because|this|in case)|writing this for|faq"
    r"|comparto (?:esto|mi|nuestra|por si)|por si (?:a alguien )?le sirve"
    r"|para (?:quien|los que) (?:este|esten|empieza)|partilho|compartilho|caso ajude"
    r"|para quem (?:esta|estiver|comeca)|je partage|pour ceux qui|si ca peut aider"
)
_QUESTION_AND_ANSWER = re.compile(r"(?:^|\s)q: .{3,300}?\sa: ")
_QUOTED_QUESTION = re.compile(r"[\"“«'][^\"”»]{3,200}\?\s*[\"”»']")
_ANIMAL = _any(
    r"dog|dogs|doggy|cat|cats|puppy|pup|kitten|vet|vets|spaniel|labrador|terrier|beagle"
    r"|poodle|collie|greyhound|whippet|hamster|rabbit|bunny|guinea pig|horse|horses|horsey|pony"
    r"|budgie|parrot|tortoise|turtle|ferret"
    r"|perro|perra|perrito|perrita|gato|gata|gatito|gatita|veterinario|veterinaria|conejo"
    r"|caballo|yegua|tortuga|loro|perico|cobaya|mascota|mascotas"
    r"|cachorro|cachorra|cachorrinho|cadela|cadelinha|cao|caes|gatinho|gatinha|filhote|coelho"
    r"|cavalo|egua|tartaruga|papagaio|periquito|porquinho-da-india|bicho de estimacao"
    r"|chien|chienne|chiot|chat|chatte|chaton|minou|veterinaire|veto|lapin|cheval|jument"
    r"|poney|tortue|perroquet|perruche|cochon d'inde|furet|toutou"
    r"|chucho|chucha|perritos|perritas|gatitos|michi|minino|cachorrinha|cachorros|cadelas"
    r"|gatos|chiens|chats|chatons|berger allemand|pooch|moggy|puppies|kittens"
)
_VET = _any(r"vet|vets|veterinari\w*|veterinaire|veto")
# A reply to another reader by name ("@Maria ...", "Louis, ..."): advice and chat more
# often than a question for a nurse.
_ADDRESSED = re.compile(
    r"^\s*@\w+|^\s*(?:(?:hey|hi|hola|oi|ola|coucou|salut)\s+)?"
    r"(?!(?:hola|hello|hi|hey|bonjour|bonsoir|buenas|buenos|oi|ola|salut|coucou|thanks|gracias"
    r"|merci|obrigad[oa]|please|dear|querid[oa]s?|cher|chere|ok|okay|so|well|yes|no|si|sim"
    r"|nao|oui|non|update|pregunta|question|duda|duvida)\b)[a-z]{3,}\s*[,:]\s"
)
# "People keep asking me...", "me perguntam se...": a question reported, then answered.
_REPORTED = _any(
    r"(?:people|they|everyone|friends|folks) (?:keep |always |often )?ask(?:s|ed|ing)? me"
    r"|(?:asked|asks|asking) me (?:if|whether|what|how|why)|wanted to know (?:if|why|what)"
    r"|me (?:preguntan|preguntaron|pregunta siempre|pregunto si)|queria saber (?:si|por que)"
    r"|me perguntam|perguntaram-me|me perguntou|me perguntaram|queria saber se"
    r"|on me demande|m'a demande|m'ont demande|voulait savoir|me demandent"
)
# Prayer requests ask something of readers, never of a nurse.
_PRAYER = _any(
    r"pray|prayers?|praying|oracion|oraciones|orar|rezar|rezad|recen|orem|rezem|oracoes|oracao"
    r"|priere|prieres|priez|prions|pensees|ayez une pensee|cadena de oracion|corrente de oracao"
)
# A reader answering or advising another: "have you asked your nurse?", "pregunta a tu medico".
_ADVICE = _any(
    r"have you (?:tried|asked|spoken|talked|thought|considered|checked)|you (?:should|could|might)"
    r"|(?:ask|tell|call|talk to|speak to) your|i(?:'d| would) (?:ask|push|insist|call)"
    r"|my advice|hang in there|don'?t give up"
    r"|has probado|has preguntado|(?:pregunta|pregunte|consulta|habla|dile) (?:a|con) tu"
    r"|deberias|podrias|te recomiendo|mi consejo"
    r"|ja tentou|ja perguntou|voce ja|vc ja"
    r"|(?:pergunte|pergunta|fale|converse) (?:ao|a|com) (?:seu|sua|o seu|a sua)"
    r"|voce deveria|vc deveria|meu conselho|recomendo que"
    r"|avez-vous essaye|as-tu essaye|t'as essaye|avez-vous demande|as-tu demande"
    r"|(?:demandez|demande|parlez-en|parles-en|parlez|parle) (?:a|en a) (?:votre|ton|ta)"
    r"|tu devrais|vous devriez|mon conseil|je vous conseille|je te conseille"
)
# Results written the way patients copy them: "del(17p)", "t(4;14)", "kappa 340", "3 g/l".
_LAB = re.compile(
    r"del\s?\(?\d+[pq]\)?|t\(\d+;\d+\)|gain\s?\(?1q\)?|1q\+?|fish|kappa|lambda"
    r"|igg|iga|ratio|m-?spike|pic|\d+(?:[.,]\d+)?\s?(?:g/l|g/dl|mg/dl|mg/l"
    r"|mmol/l|umol/l|%)"
)
_THANKS = re.compile(fold(lex.THANKS) + r"|\bobrigad[oa]\b|\bvaleu\b|\bmil gracias\b")
_SPAM = tuple(re.compile(rx) for rx in lex.SPAM_PHRASES.values())
_LINK = re.compile(lex.LINK)
_SPAMMY_AUTHOR = re.compile(lex.SPAMMY_AUTHOR)


@functools.cache
def _clinical() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((label, re.compile(rx)) for label, rx in lex.CLINICAL.items())


# How each signal reads in an explanation.
SIGNAL_WORDS: dict[str, str] = {
    "s:qmark": "asks a question",
    "s:opener": "a sentence opens like a question",
    "s:indirect": "asks indirectly",
    "s:first_person": "writes about themselves",
    "s:relative": "writes about a relative",
    "s:clinical": "mentions a clinical topic",
    "s:ask_medical": "the question is about a drug or clinical topic",
    "s:care_ask": "asks what to do about someone's care",
    "s:general": "asks about the blog, events, donations or research",
    "s:thanks": "reads as thanks or encouragement",
    "s:spam": "looks like spam",
    "s:rhetorical": "a question nobody expects answered",
    "s:quoted_question": "quotes a question (often to answer it)",
    "s:animal": "about a pet",
    "s:few_words": "too short to ask anything",
    "s:link": "contains a link",
    "s:no_ask": "asks nothing",
    "s:ask_plain": "its question is not about health or care",
    "s:last_asks": "ends with a question",
    "s:prayer": "asks for prayers",
    "s:advice": "advises someone else",
    "s:lab": "quotes a test result",
    "s:addressed": "replies to another reader by name",
    "s:reported": "reports a question someone else asked",
    "s:asks_nurses": "asks the nurses or the InfoLine",
    "s:sharing": "shares an experience for others",
}


@dataclass(frozen=True, slots=True)
class Features:
    """Feature name -> value, and for n-grams the phrase of the comment each came from."""

    values: dict[str, float]
    phrases: dict[str, str]
    drugs: tuple[str, ...]
    topics: tuple[str, ...]


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _signals(
    raw: str, text: str, author_name: str | None
) -> tuple[dict[str, float], tuple[str, ...], tuple[str, ...]]:
    signals: dict[str, float] = {}
    drugs: list[str] = []
    topics: list[str] = []
    asking_medical = False
    asking_nurses = False
    # A pet in the first sentence or one that asks or is medical, not "I walk the dog".
    animal = False
    seen_sentence = False
    asking_general = False  # an event, donation or the site in a sentence that asks
    asked = False
    last_asks = False
    for sentence in _sentences(text):
        asks = False
        if "?" in sentence:
            signals["s:qmark"] = 1.0
            asks = True
        if _OPENER.match(sentence):
            signals["s:opener"] = 1.0
            asks = True
        if _INDIRECT.search(sentence):
            signals["s:indirect"] = 1.0
            asks = True
        medical = False
        for word in _WORD.findall(sentence):
            # The rules' drug matcher: brand and generic names, and their misspellings.
            for token in (word, *word.split("-")) if "-" in word else (word,):
                found = drug_for(token)
                if found is not None:
                    medical = True
                    name, misspelt = found
                    shown = f'{name} ("{token}")' if misspelt else name
                    if not any(d == name or d.startswith(name + " (") for d in drugs):
                        drugs.append(shown)
                    break
        if _CLINICAL_OTHER.search(sentence):
            medical = True
        for label, rx in _clinical():
            if rx.search(sentence):
                medical = True
                if label not in topics:
                    topics.append(label)
        if _LAB.search(sentence):
            medical = True
        if asks and medical:
            asking_medical = True
        asked = asked or asks
        animal = animal or (
            (asks or medical or not seen_sentence) and bool(_ANIMAL.search(sentence))
        )
        seen_sentence = True
        asking_general = asking_general or (asks and bool(_GENERAL.search(sentence)))
        asking_nurses = asking_nurses or (asks and bool(_NURSES.search(sentence)))
        last_asks = asks
    if topics or _CLINICAL_OTHER.search(text):
        signals["s:clinical"] = 1.0
    if asking_medical:
        signals["s:ask_medical"] = 1.0
    care_ask = bool(_CARE_ASK.search(text))
    # Conjunctions a linear model cannot form itself: a question with nothing medical in
    # it (parking, the website) and a comment that asks nothing at all (a story).
    if not asked and not care_ask:
        signals["s:no_ask"] = 1.0
    elif asked and not asking_medical and not care_ask:
        signals["s:ask_plain"] = 1.0
    if last_asks:
        signals["s:last_asks"] = 1.0
    if asking_nurses or (asked and _NURSES.search(text)):
        signals["s:asks_nurses"] = 1.0
    if _LAB.search(text):
        signals["s:lab"] = 1.0
    if animal or _VET.search(text):
        signals["s:animal"] = 1.0
    if asking_general or (not asked and _GENERAL.search(text)):
        signals["s:general"] = 1.0
    if _QUESTION_AND_ANSWER.search(text):
        signals["s:sharing"] = 1.0
    for key, rx in (
        ("s:first_person", _FIRST_PERSON),
        ("s:relative", _RELATIVE),
        ("s:thanks", _THANKS),
        ("s:care_ask", _CARE_ASK),
        ("s:rhetorical", _RHETORICAL),
        ("s:quoted_question", _QUOTED_QUESTION),
        ("s:prayer", _PRAYER),
        ("s:advice", _ADVICE),
        ("s:reported", _REPORTED),
        ("s:sharing", _SHARING),
    ):
        if rx.search(text):
            signals[key] = 1.0
    if _ADDRESSED.search(text):
        signals["s:addressed"] = 1.0
    link = bool(_LINK.search(raw.lower()))
    if link:
        signals["s:link"] = 1.0
    spammy_author = bool(author_name) and bool(_SPAMMY_AUTHOR.search(str(author_name).lower()))
    if sum(1 for rx in _SPAM if rx.search(text)) + link + spammy_author >= 2:
        signals["s:spam"] = 1.0
    return signals, tuple(drugs), tuple(topics)


def extract(body: str, author_name: str | None = None) -> Features:
    """The features of one comment (see the module's docstring).

    The author's name only counts as one more sign of spam ("cheap-meds-shop").
    """
    raw = str(body)[:MAX_CHARS]
    text = fold(_TAG.sub(" ", raw)).translate(_MARKS).replace("¿", " ")
    words = _WORD.findall(text)
    values: dict[str, float] = {}
    phrases: dict[str, str] = {}

    word_keys: list[str] = []
    for i, word in enumerate(words):
        word_keys.append("w:" + word)
        phrases.setdefault("w:" + word, word)
        if i:
            pair = words[i - 1] + " " + word
            word_keys.append("w:" + pair)
            phrases.setdefault("w:" + pair, pair)
    char_keys: list[str] = []
    for word in dict.fromkeys(words):  # first-seen order: explanations are deterministic
        padded = f" {word} "
        for size in CHAR_SIZES:
            for start in range(len(padded) - size + 1):
                key = "c:" + padded[start : start + size]
                char_keys.append(key)
                phrases.setdefault(key, word)
    for keys in (word_keys, char_keys):
        unique = set(keys)
        if unique:
            weight = 1.0 / math.sqrt(len(unique))
            for key in unique:
                values[key] = weight
    signals, drugs, topics = _signals(raw, text, author_name)
    if len(words) <= 3:
        # One lone word weighs a lot in so short a text ("hello"): say it is short.
        signals["s:few_words"] = 1.0
    values.update(signals)
    return Features(values, phrases, drugs, topics)
