"""The phrases the triage's signals look for, in English, Spanish, Portuguese and French.

Every pattern is matched on folded text (`fold`: lower case, accents dropped), so
"medicación" and "medicacion" are one word. These lists only feed signals, features
whose weights the model learns (``notifier.triage.features``): a phrase makes a comment
more or less likely to be a question, never decides alone.
"""

from __future__ import annotations

import re
import unicodedata

from notifier.triage import lexicon as lex

# NFKD leaves these whole, so "sœur" would never read as "soeur".
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})


def fold(text: str) -> str:
    """Lower-case, drop accents, keep letters of every script: "Medicación" -> "medicacion"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def any_of(words: str) -> re.Pattern[str]:
    return re.compile(rf"(?:^|\b)(?:{words})\b")


# Question openers at the start of a sentence, by language (matched on folded text).
OPENERS = (
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
OPENER = re.compile(
    rf"^(?:(?:hi|hello|hola|oi|ola|bonjour|salut|slt|ok|so|and|but|y|e|et)\W+)*(?:{OPENERS})\b"
)
INDIRECT = any_of(
    r"wonder(?:ed|ing)? (?:if|whether|what|how|why)|want(?:ed)? to know|like to know|need to know"
    r"|any(?:one|body)? (?:know|advice|tips|suggestions|ideas|info|information)|has anyone"
    r"|can (?:someone|anyone|you) (?:tell|explain|help)|please help|help me understand"
    r"|trying to understand|need (?:some )?(?:advice|help|information)|looking for (?:advice"
    r"|information)"
    r"|quisiera saber|quiero saber|me gustaria saber|necesito saber|alguien sabe|me pregunto"
    r"|tengo dudas|necesito informacion|por favor ayuda|quisiera entender"
    r"|gostaria de saber|queria saber|quero saber|preciso saber|alguem sabe|me pergunto"
    r"|tenho duvida|preciso de informac\w+|me ajudem|queria entender"
    r"|je voudrais savoir|j'aimerais savoir|je me demande|je me demandais|quelqu'un sait"
    r"|me preguntaba (?:si|que|por que|cual|como|cuanto|cuando|donde)|me perguntava se"
    r"|(?:i was|was just) wondering"
    # Asking without asking: "Se alguém puder esclarecer…, agradeço", "Ojalá alguien
    # pudiera explicarme…", "Si quelqu'un peut m'éclairer…".
    r"|(?:queria|quero|gostava de|gostaria de) uma luz|fico (?:me )?perguntando|pensando aqui se"
    r"|se alguem (?:puder|pudesse|souber) (?:esclarecer|explicar|me dizer|ajudar)"
    r"|gostava de (?:uma resposta|saber|perceber)|ficaria (?:muito )?grat[oa]"
    r"|agradeco (?:imenso|muito|desde ja|qualquer)"
    r"|nao encontro (?:em lugar nenhum|nada) (?:se|sobre)"
    r"|alguem (?:me )?(?:explica|esclarece|orienta)"
    r"|estaria bien que alguien|ojala alguien|si alguien (?:me )?(?:puede|pudiera|sabe)"
    r"|le agradeceria|llevo dandole vueltas a si|no encuentro (?:en ningun sitio|nada) (?:si|sobre)"
    r"|alguien (?:me )?(?:explica|aclara|orienta)"
    r"|si quelqu'un (?:peut|pouvait|pourrait|sait)|quelqu'un (?:peut|pourrait) (?:m'expliquer"
    r"|me dire|m'eclairer)|me seraient (?:bien |tres )?utiles|je me pose (?:la|des) questions?"
    r"|if anyone (?:could|can|knows)|would love to know|any pointers|shed (?:some )?light"
    r"|grateful if|can'?t find anywhere|been wondering"
    r"|agradecia (?:informac\w+|que|se|uma)|gostava de (?:perceber|saber|entender)"
    r"|je serais curieu(?:x|se) de savoir|j'aimerais bien savoir|(?:i'd|i would) be grateful"
    r"|would (?:really )?appreciate (?:any|some|if|a)|curious (?:if|whether|to know|what)"
    r"|me vendria bien saber|agradeceria (?:informacion|que|si|cualquier)"
    r"|y a-t-il un autre|ya t-?il|ya t'il|y a til"
    r"|je cherche des informations"
    r"|what (?:does|do) (?:that|this|it|these|those|they) mean|(?:o )?que significa"
    r"|qu'est-ce que ca veut dire|ca veut dire quoi"
    r"|(?:don'?t|do not|dont) know (?:who|what|where|if|whether|how)"
    r"|no se (?:a quien|que|donde)|nao sei (?:a quem|o que|onde)"
    r"|je (?:ne )?sais pas (?:a qui|quoi|ou)"
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
FIRST_PERSON = any_of(
    r"i|i'm|im|i've|ive|me|my|mine|myself|we|our|us"
    r"|yo|mi|mis|me|nosotros|nuestro|nuestra|tengo|estoy"
    r"|eu|meu|minha|meus|minhas|nos|nosso|nossa|estou|tenho"
    r"|je|j'\w+|moi|mon|ma|mes|nous|notre"
)
RELATIVE = any_of(
    r"husband|wife|partner|father|dad|mother|mom|mum|brother|sister|son|daughter|uncle|aunt"
    r"|grandma|grandpa|grandad|granddad|grandmother|grandfather|mother-in-law|father-in-law"
    r"|marido|esposo|esposa|mujer|padre|papa|madre|mama|hermano|hermana|hijo|hija|abuela|abuelo"
    r"|tio|tia|suegro|suegra|pai|mae|irmao|irma|filho|filha|avo|sogro|sogra"
    r"|mari|femme|pere|mere|maman|frere|soeur|fils|fille|grand-mere|grand-pere|tante|oncle"
    r"|beau-pere|belle-mere|compagne|compagnon"
)
# Clinical words of Spanish, Portuguese and French (folded); English ones are the lexicon's.
CLINICAL_OTHER = any_of(
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
    r"|corticoides?|cortisone|dexa|sangre|sangue|sang|diarrea|diarreia|diarrhee"
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
    r"|cotrimoxazol\w*|heparin\w*|apixaban|eliquis|rivaroxaban|xarelto|clexane"
    r"|enoxaparin\w*|insulin\w*|insuline|filgrastim|neupogen|g-csf|port-a-cath|picc"
    r"|cateter|catheter|chambre implantable"
    # Parts of the body and sensations patients ask about.
    r"|oido|ouvido|oreille|oreilles|sudor|sudores|suor|suores|sueurs?|sweats?|moretones"
    r"|hematomas?|bleus|ecchymoses?|tiritar|escalofrios|calafrios|frissons|shivers?"
    r"|shivering|ganglios?|ganglions?|higado|figado|foie|pulmon|pulmao|poumons?"
    r"|vomit\w*|vomissements?|mareos|tete qui tourne|dormente"
    r"|dormencia|adormecid\w*|engourdi\w*|zumbido|acouphenes?|sarpullido|erupcion|manchas"
    r"|plaques rouges|boutons|coceira|comezon|picazon|demangeaisons|perf|suero|soro"
    # English everyday words for treatment and symptoms the old lexicon leaves out.
    r"|tablets?|pills?|meds|jabs?|injections?|steroids?|antibiotics?|temperature|temp|fever"
    r"|dizzy|dizziness|faint\w*|breathless\w*|cough\w*|bruis\w*|bleed\w*|itch\w*|rash\w*"
    r"|thirst\w*|pee|peeing|swallow\w*|hearing loss|deaf\w*|eyesight|forgetful"
)
# Asking for care in so many words: "is it normal", "should I", "who do I talk to".
CARE_ASK = any_of(
    r"should (?:i|we|he|she|they|my \w+)|is (?:it|this|that) (?:normal|safe|ok|okay|serious|urgent)"
    r"|is it an emergency|who (?:do|should) (?:i|we) (?:talk|speak|call|ask)|what (?:do|should"
    r"|can) (?:i|we) do"
    r"|do (?:i|we) need to|can (?:i|he|she|we) (?:take|have|eat|drink|get)|should i be worried"
    r"|es normal|es grave|es urgente|debo|deberia|debemos|que hago|que hacemos|a quien|con quien"
    r"|se puede|puedo tomar|tengo que preocuparme|debo preocuparme|hay que"
    r"|se pueden|se podria|puedo|podria|podre|es seguro|es peligroso"
    r"|e seguro|e perigoso|posso|poderia|pode-se|c'est dangereux|c'est sans danger|je pourrai"
    r"|safe to|ok to|okay to"
    r"|e normal|e grave|e urgente|devo|deveria|devemos|o que (?:eu )?faco|o que fazemos|com quem"
    r"|a quem"
    r"|pode tomar|posso tomar|preciso ir|devo me preocupar"
    r"|c'est normal|c'est grave|c'est urgent|dois-je|faut-il|je dois|on doit|je fais quoi"
    r"|on fait quoi"
    r"|a qui|puis-je|peut-on|on peut|je peux prendre|faut-il s'inquieter"
    r"|j'ai-tu le droit|ai-je le droit|j'ai le droit de|puedo volver a|posso voltar a"
    r"|can i (?:go back to|start|resume)"
)
GENERAL = re.compile(
    lex.GENERAL_TOPICS + r"|\b(?:donar|donativo|donacion|doar|doacao|dons|boletin|contrasena"
    r"|senha|mot de passe|foro|forum|webinario|webinaire|seminario|caminata|caminhada"
    r"|gala|voluntari\w*|benevole|evento|evenement|grupo de apoyo|grupo de apoio"
    r"|justgiving|gofundme|testament|testamento|legado|legacy|badges?|posters?"
    r"|affiches?|cartaz|cartel|carteles|camisetas?|camisolas?|t-shirts?|tshirts?|merch"
    r"|registration|inscription|inscripcion|inscricao|atelier|workshop"
    r"|trophy|trofeo|raffle|rifa|tombola|sorteo|sorteio|quermesse|kermesse|bake sale"
    r"|groupe de parole|investigacion|pesquisa|recherche"
    # Event logistics and the site's mechanics ("is there a hearing loop in the hall?",
    # "why do the comments keep logging me out?").
    # Each word is tied to its context: "moderate pain", "approved for relapse", "les
    # commentaires du médecin", "ticket modérateur" and "la venue" are about care.
    r"|information day|info day|open day|hearing loop|livestream|zoom link"
    r"|charla|ponentes?|entradas para|palestra|ingressos?"
    r"|journee d'information|billets? pour (?:le|la|les) (?:concert|gala|soiree|diner|spectacle)"
    r"|replay|log(?:ged|s|ging)? me (?:in|out)|logged (?:in|out) of (?:the )?(?:site|blog|website)"
    r"|log (?:in|on) to (?:the )?(?:site|blog|website)|login|username"
    r"|comments? (?:section|box|form)|(?:my|the) comments? (?:keep (?:disappearing|vanishing)"
    r"|(?:won't|don't|doesn't|never|didn't) (?:post|show|appear|load|go through)"
    r"|(?:is|are|was|were|aren't|isn't) (?:not )?(?:showing|appearing|published|approved))"
    r"|awaiting moderation|in moderation|moderators?|moderation|moderador\w*"
    r"|(?:les|le|un|aux|des) moderateurs?"
    r"|moderacion|moderacao|se publican los comentarios|aprueben (?:los|mi|mis) comentarios?"
    r"|comentarios? (?:no (?:aparece|aparecen|sale|salen|se publica|se publican|foi publicado)"
    r"|nao (?:aparece|aparecem)|(?:esta|estan|estao) (?:pendientes?|pendentes?|em moderacao"
    r"|en moderacion))|commentaires? (?:n'apparai\w*|ne s'affiche\w*|n'est pas publie"
    r"|(?:est|sont) en attente))\b"
)
# Questions nobody expects an answer to, and answers to a quoted question.
RHETORICAL = any_of(
    r"what is it with|is there anything more|how is it that|am i the only one|just me"
    r"|soy (?:la|el) unic[oa]|sou (?:a|o) unic[oa]|juste moi|on peut rever|c'est moi ou"
    r"|who (?:would have|knew|else thinks)|what would i do without|isn'?t (?:it|this) (?:amazing"
    r"|incredible|ridiculous|great)|how lucky|could (?:this|it) get any worse|how did we ever"
    r"|quien iba a decir|que haria (?:yo )?sin|no es (?:increible|ridiculo|emocionante)"
    r"|como nos las|quem diria|o que eu faria sem|nao e (?:incrivel|ridicul\w+|emocionante)"
    r"|como a gente|qui aurait cru|qu'est-ce que je ferais sans|c'est pas ridicule"
    r"|comment on faisait|peut-elle etre pire|puede empeorar|pode piorar"
    # Indignation: "how can they leave patients waiting?", "where is the dignity?".
    r"|how (?:can|could) (?:they|anyone|a country|the government) (?:leave|let|expect|accept)"
    r"|where is the (?:dignity|justice|logic|humanity)|what kind of (?:country|system)"
    r"|donde esta la (?:dignidad|justicia|logica)|cade a (?:dignidade|justica)"
    r"|comment (?:peut-on|on peut|est-ce possible) (?:laisser|accepter)"
    r"|on vit dans quel|ou est (?:la|le) (?:dignite|justice|logique|respect)"
    r"|c'est quoi ce (?:systeme|pays)"
)
# A loved one has died: such comments give news and thanks, drugs and all, and ask nothing.
BEREAVED = any_of(
    r"passed away|(?:has|have|had) passed on|passed on (?:peacefully|last|yesterday)"
    r"|lost (?:my|our) (?:dad|mum|mom|father|mother|husband|wife|son|daughter|brother|sister"
    r"|partner)|rest in peace|(?:his|her) funeral"
    r"|left us (?:on|last|peacefully|yesterday|this)|lost (?:his|her|their) (?:battle|fight)"
    r"|gained (?:his|her) wings|nos dejo (?:el|ayer|anoche|hace|para siempre|esta)"
    r"|nos ha dejado|se fue al cielo|perdeu a (?:batalha|luta)|perdio la (?:batalla|lucha)"
    r"|(?:he|she|dad|mum|mom|father|mother|husband|wife|brother|sister) died"
    r"|died (?:peacefully|last|on|yesterday|this morning|in (?:his|her|my) )"
    r"|fallecio|fallecida|fallecido|se nos fue (?:el|ayer|anoche|hace|para)|descanse en paz"
    r"|q\.?e\.?p\.?d|velorio|faleceu|falecida|falecido|nos deixou (?:no|na|ontem|dia|em)"
    r"|partiu (?:ontem|dia|em paz)|descanse em paz|enterro"
    r"|(?:mon|ma|notre) (?:pere|mere|mari|femme|papa|maman|frere|soeur|fils|fille|epoux|epouse"
    r"|compagnon|compagne|grand-pere|grand-mere) (?:nous a quitte|est partie?(?=\s*[.,!]|$"
    r"| paisiblement| rejoindre| en paix| au ciel| pour toujours| dans son sommeil| le \d))"
    r"|est partie? (?:paisiblement|rejoindre|en paix|au ciel|pour toujours)"
    r"|nous a quittes?|nous a quittee|decede|decedee|s'est eteinte?"
    r"|repose en paix|obseques|enterrement|funerailles"
)
NURSES = any_of(
    r"nurses?|infoline|help ?line|enfermer[ao]s?|enfermagem|infirmier\w*|infirmiere\w*"
    r"|linea de ayuda|linha de apoio|ligne d'ecoute"
)
# Telling one's story for others' sake: "sharing because it helped me", "for anyone newly
# diagnosed", "Q: ... A: ..." (the writer asks and answers).
SHARING = any_of(
    r"sharing (?:because|our|my|this|in case)|for anyone (?:who|newly|else|starting|worried)"
    r"|in case it helps|thought i'?d (?:post|share|update)|just (?:wanted|want) to share"
    r"|posting (?:because|this|in case)|writing this for|faq"
    r"|comparto (?:esto|mi|nuestra|por si)|por si (?:a alguien )?le sirve"
    r"|para (?:quien|los que) (?:este|esten|empieza)|partilho|compartilho|caso ajude"
    r"|para quem (?:esta|estiver|comeca)|je partage|pour ceux qui|si ca peut aider"
)
QUESTION_AND_ANSWER = re.compile(r"(?:^|\s)q: .{3,300}?\sa: ")
QUOTED_QUESTION = re.compile(r"[\"“«'][^\"”»]{3,200}\?\s*[\"”»']")
ANIMAL = any_of(
    r"dog|dogs|doggy|cat(?! scan)|cats|puppy|pup|kitten|spaniel|labrador|terrier|beagle"
    r"|poodle|collie|greyhound|whippet|hamster|rabbit|bunny|guinea pig|horse|horses|horsey|pony"
    r"|budgie|parrot|tortoise|turtle|ferret"
    r"|perro|perra|perrito|perrita|gato|gata|gatito|gatita|veterinario|veterinaria|conejo"
    r"|caballo|yegua|tortuga|loro|perico|cobaya|mascota|mascotas"
    r"|cachorro|cachorra|cachorrinho|cadela|cadelinha|cao|caes|gatinho|gatinha|filhote|coelho"
    r"|cavalo|egua|tartaruga|papagaio|periquito|porquinho-da-india|bicho de estimacao"
    r"|chien|chienne|chiot|(?:mon|ton|son|notre|votre|le|un|du|au) chat|chatte|chaton|minou"
    r"|veterinaire|veto|lapin|cheval|jument"
    r"|poney|tortue|perroquet|perruche|cochon d'inde|furet|toutou"
    r"|chucho|chucha|perritos|perritas|gatitos|michi|minino|cachorrinha|cachorros|cadelas"
    r"|gatos|chiens|chats|chatons|berger allemand|pooch|moggy|puppies|kittens"
)
# "The vet" speaks of an animal even in a sentence that names none; "a Vietnam vet" does not.
VET = any_of(r"(?:the|a|our|my|his|her|their|to the) vet|vets|veterinari\w*|veterinaire|veto")
# A reply to another reader by name ("@Maria ...", "Louis, ..."): advice and chat more
# often than a question for a nurse.
ADDRESSED = re.compile(
    r"^\s*@\w+|^\s*(?:(?:Hey|Hi|Hola|Oi|Olá|Ola|Coucou|Salut)\s+)?"
    r"(?!(?i:hola|hello|hi|hey|bonjour|bonsoir|buenas|buenos|oi|olá|ola|salut|coucou|thanks"
    r"|thank|gracias|merci|obrigad[oa]|please|dear|querid[oa]s?|cher|chère|chere|ok|okay|so"
    r"|well|yes|no|sí|si|sim|não|nao|oui|non|update|pregunta|question|duda|dúvida|duvida"
    r"|sorry|bueno|alors|nurses?|everyone|all|folks|friends|amigos|amis|pessoal|gente"
    r"|todos|and|but|also|btw|doctor|docteur|doctora|mum|mom|dad|mama|papa|mamá|papá"
    # Greetings and forms of address that are not another reader's name.
    # ("Salam," and "Allo," open far more comments here than readers so named do.)
    r"|salam|salaam|allo|allô|bjr|bsr|greetings|morning|evening|afternoon|hiya|howdy"
    r"|namaste|ciao|madame|monsieur|mesdames|messieurs|señora|señor|senora|senor|senhora"
    r"|senhor|equipe|équipe|equipo|enfermeras|infirmières|infirmieres"
    # Words that open a sentence and are not names ("Astheure, ...", "Anyway, ...").
    r"|astheure|bon|ben|bref|donc|enfin|voilà|voila|anyway|anyhow|besides|pues|entonces"
    r"|ahora|agora|então|entao|enfim|pronto|bem|quick)\b)"
    r"[A-ZÀ-Ý][a-zà-ÿ]{2,}(?: (?:ji|jee|sahib|san))?\s*[,:]\s"
)
# "People keep asking me...", "me perguntam se...": a question reported, then answered.
REPORTED = any_of(
    r"(?:people|they|everyone|friends|folks) (?:keep |always |often )?ask(?:s|ed|ing)? me"
    r"|(?:asked|asks|asking) me (?:if|whether|what|how|why)"
    r"|me (?:preguntan|preguntaron|pregunta siempre)"
    r"|me perguntam|perguntaram-me|me perguntou|me perguntaram"
    r"|on me demande|m'a demande|m'ont demande|voulait savoir|me demandent"
    r"|was asking me|were asking me|(?:you|people|someone) asked (?:me|whether|if)"
    r"|(?:i )?(?:often |always )?get asked|the question (?:i get|comes up|keeps coming)"
    r"|me preguntaban|me preguntabas|me han preguntado"
    r"|(?:mi|mis|el|la|un|una) \w+ me preguntaba|me preguntaba mi \w+|^\s*que si\b"
    r"|me perguntavam|ja me perguntaram"
    r"|me demandait|me demandaient|me demandiez|on me pose (?:souvent |toujours )?"
    r"(?:la|cette) question|la question revient"
)
# Prayer requests ask something of readers, never of a nurse.
PRAYER = any_of(
    r"pray|prayers?|praying|oracion|oraciones|orar|rezar|rezad|recen|orem|rezem|oracoes|oracao"
    r"|priere|prieres|priez|prions|pensees|ayez une pensee|cadena de oracion|corrente de oracao"
)
# A reader answering or advising another: "have you asked your nurse?", "pregunta a tu medico".
ADVICE = any_of(
    r"have you (?:tried|asked|spoken|talked|thought|considered|checked)|you (?:should|could|might)"
    r"|(?:ask|tell|call|talk to|speak to) your|i(?:'d| would) (?:ask|push|insist|call)"
    r"|my advice|hang in there|don'?t give up"
    r"|has probado|has preguntado|(?:pregunta|pregunte|consulta|habla|dile) (?:a|con) tu"
    r"|deberias|te recomiendo|mi consejo"
    r"|ja tentou|ja perguntou|voce ja|vc ja"
    r"|(?:pergunte|pergunta|fale|converse) (?:ao|a|com) (?:seu|sua|o seu|a sua)"
    r"|voce deveria|vc deveria|meu conselho|recomendo que"
    r"|avez-vous essaye|as-tu essaye|t'as essaye|avez-vous demande|as-tu demande"
    r"|(?:demandez|demande|parlez-en|parles-en|parlez|parle) (?:a|en a) (?:votre|ton|ta)"
    r"|tu devrais|vous devriez|mon conseil|je vous conseille|je te conseille"
    # Answering whoever asked: "A quien preguntaba por la piscina: ...".
    r"|(?:to|for) (?:whoever|the person who|those who) asked|a quien preguntaba"
    r"|(?:para|a) (?:los|las) que preguntaron|a quem perguntou|para quem perguntou"
    r"|(?:a|pour) (?:celui|celle|ceux) qui demand\w+"
)
# Results written the way patients copy them: "del(17p)", "t(4;14)", "kappa 340", "3 g/l".
LAB = re.compile(
    r"\bdel\s?\(?\d+[pq]\)?|\bt\(\d+;\d+\)|\bgain\s?\(?1q\)?|\b1q\+?(?!\w)"
    r"|\b(?:fish|kappa|lambda|igg|iga|ratio|m-?spike|pic)\b"
    # A number's digits are bounded so a hostile run of digits costs linear time.
    r"|(?<![\d.,])\d{1,6}(?:[.,]\d{1,3})?\s?(?:g/l|g/dl|mg/dl|mg/l|mmol/l|umol/l|%)"
)
THANKS = re.compile(fold(lex.THANKS) + r"|\bobrigad[oa]\b|\bvaleu\b|\bmil gracias\b")
SPAM = tuple(re.compile(rx) for rx in lex.SPAM_PHRASES.values())
LINK = re.compile(lex.LINK)
SPAMMY_AUTHOR = re.compile(lex.SPAMMY_AUTHOR)
