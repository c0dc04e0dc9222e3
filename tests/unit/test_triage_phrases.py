"""The triage's phrase lists: what they must catch and the everyday words they must not."""

from __future__ import annotations

from pathlib import Path

import pytest

from notifier.triage.features import extract
from notifier.triage.phrases import fold


def signals(body: str) -> set[str]:
    return {k for k in extract(body).values if k.startswith("s:")}


@pytest.mark.parametrize(
    "body",
    [
        "FISH shows del(17p), what does that mean",
        "t(4;14) positif. bon ou mauvais",
        "kappa 340 lambda 12",
        "pic monoclonal à 3,2 g/l",
    ],
)
def test_results_as_patients_copy_them_are_seen(body: str) -> None:
    assert "s:lab" in signals(body)


@pytest.mark.parametrize(
    "body",
    ["Registration for the walk is open", "What a picture!", "Obrigada, amiga", "A bigger cage"],
)
def test_result_words_inside_other_words_are_not_results(body: str) -> None:
    assert "s:lab" not in signals(body)


@pytest.mark.parametrize(
    ("body", "signal"),
    [
        ("My wife's new pills make her confused and I don't know who to talk to", "s:general"),
        ("Is there a link between dex and insomnia?", "s:general"),
        ("pins and needles in my feet since velcade, is that normal?", "s:general"),
        ("We had a quick chat with the nurse. Should Dad drink more water?", "s:animal"),
        ("My CAT scan showed a lesion, what happens next?", "s:animal"),
        ("Dad is a Vietnam vet, could Agent Orange have caused his myeloma?", "s:animal"),
        ("Hi all, mum keeps falling asleep since her new tablets, is that normal?", "s:addressed"),
        ("Sorry, is it safe to eat sushi on lenalidomide?", "s:addressed"),
        ("Queria saber se posso tomar a vacina da gripe com o Revlimid", "s:reported"),
        ("Salam, est-ce que le jeûne est possible pendant le Velcade ?", "s:addressed"),
        ("Allo, mon hémato veut changer le Darzalex. Est-ce aussi efficace?", "s:addressed"),
        ("Madame, je voudrais savoir si la dexa fait monter le sucre", "s:addressed"),
        ("When I started Velcade, should I have stopped my vitamins?", "s:opener_stated"),
        ("Is this normal?! My legs swell every evening on dex", "s:opener_stated"),
        ("Is 10 mg. of dex too much for him", "s:opener_stated"),
        ("Astheure, j'ai-tu le droit de manger des sushis?", "s:addressed"),
        ("Does Velcade log out of your system fast?", "s:general"),
        ("¿Está aprobada la dexametasona en dosis bajas para mi edad?", "s:general"),
        ("Est-ce que le Sarclisa est approuvé au Québec pour une rechute?", "s:general"),
        ("Can I log in to the patient portal to see my bloods?", "s:general"),
        ("My haematologist's comments confuse me. Is a moderate rise bad?", "s:general"),
        ("les intervenants du CLSC viennent le matin, ticket modérateur?", "s:general"),
        ("Me preguntaba por qué me duelen tanto los huesos con la dexa.", "s:reported"),
        ("¿A quién pregunto si me sube la fiebre después de la quimio?", "s:advice"),
        ("Mon mari est parti à l'urgence ce matin avec de la fièvre", "s:bereaved"),
        ("Comment peut-on encore traiter après une troisième rechute?", "s:rhetorical"),
        ("Should I take 10 mg. of dexa at night", "s:opener_stated"),
        ("Should I ask Dr. Patel about it", "s:opener_stated"),
        ("My kappa went up. Lovely weather. What time is the walk on Sunday?", "s:ask_medical"),
        ("My dad's pills died in the heat of the car, can he still take them?", "s:bereaved"),
        ("Can I go to a funeral while on Velcade?", "s:bereaved"),
        ("Mon mal de dos est parti, je peux reprendre le sport ?", "s:bereaved"),
        ("Me preguntaba si puedo tomar ibuprofeno con Revlimid", "s:reported"),
        ("Je me demandais si je peux prendre du Doliprane avec la dexa", "s:reported"),
        ("Jusqu'à quand dois-je prendre le Revlimid ?", "s:rhetorical"),
        ("¿Hasta cuándo tengo que tomar la dexametasona?", "s:rhetorical"),
        ("How can the NHS help me get a wheelchair for Dad?", "s:rhetorical"),
    ],
)
def test_everyday_words_do_not_raise_signals_against_a_question(body: str, signal: str) -> None:
    assert signal not in signals(body)


@pytest.mark.parametrize(
    ("body", "signal"),
    [
        ("Louis, ce serait pas plutôt le Bactrim qui te donne ces boutons ?", "s:addressed"),
        ("@Maria I had the same rash, ask your nurse", "s:addressed"),
        ("The vet put our spaniel on prednisolone, he drinks all day, normal?", "s:animal"),
        ("Mon chat est sous cortisone, c'est normal qu'il boive autant ?", "s:animal"),
        ("People keep asking me if it's catching. It isn't.", "s:reported"),
        ("Mon cousin me demandait si le myélome est contagieux. Non !", "s:reported"),
        ("Comment peut-on laisser des malades attendre six mois ?", "s:rhetorical"),
        ("Ma mère est partie le 3 mars, après Kyprolis et daratumumab.", "s:bereaved"),
        ("Mi padre falleció el martes tras tres líneas de tratamiento.", "s:bereaved"),
        ("Quand j'ai commencé le Velcade, j'avais mal aux pieds.", "s:opener_stated"),
        ("Mi hija me preguntaba ayer por qué estoy cansada. Son las medicinas.", "s:reported"),
        ("¿Que si se puede viajar con el mieloma? Yo acabo de volver de Cuba.", "s:reported"),
        ("A quien preguntaba por la piscina: yo nado con daratumumab.", "s:advice"),
        ("Ajay ji, swollen ankles are worth a call to the ward.", "s:addressed"),
        ("It is with great sadness that my father left us on 3rd March.", "s:bereaved"),
        ("Agradecia informação sobre os ensaios com CAR-T em Portugal.", "s:indirect"),
        ("Astheure, j'ai-tu le droit de manger des sushis?", "s:care_ask"),
        ("Is there a hearing loop in the hall at the information day?", "s:general"),
        ("My comments don't show up on the blog, is it moderation?", "s:general"),
        ("Me preguntaba por qué me duelen tanto los huesos con la dexa.", "s:indirect"),
        ("Se alguém puder esclarecer para que serve a beta-2, agradeço imenso.", "s:indirect"),
        ("Ojalá alguien pudiera explicarme por qué me duelen las costillas", "s:indirect"),
        ("Des infos sur la CAR-T me seraient bien utiles", "s:indirect"),
        ("Kappa 12, lambda 9, razão 1,3. Está dentro do normal?", "s:ask_medical"),
        ("Is it normal? My kappa went from 12 to 40 since the dex.", "s:ask_medical"),
        ("Me preguntaba si puedo tomar ibuprofeno con Revlimid", "s:indirect"),
        ("Je me demandais si je peux prendre du Doliprane avec la dexa", "s:indirect"),
        ("Karim, I had the same rash on Velcade, it went in a week", "s:addressed"),
    ],
)
def test_the_signals_still_fire_where_they_should(body: str, signal: str) -> None:
    assert signal in signals(body)


def test_ligatures_fold_like_their_letters() -> None:
    assert fold("Ma sœur") == "ma soeur"
    assert "s:relative" in signals("Ma sœur est sous Revlimid, c'est normal la fatigue ?")


def test_no_control_characters_hide_in_the_source() -> None:
    # A "\b" typed into a non-raw string once became a backspace and silently disabled a
    # pattern; nothing in the package's source may hold such a character.
    root = Path(__file__).resolve().parents[2] / "notifier"
    bad = [
        f"{path.relative_to(root)}:{n}"
        for path in sorted(root.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if any(ord(c) < 32 and c != "\t" for c in line)
    ]
    assert bad == []
