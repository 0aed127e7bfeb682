"""The demo catalog: a French publisher's ad account in euros and a small
Japanese one in yen, written as a catalog document (SPEC section 1).

The entities are fixed tables so that the demo reads like a real account; the
seed only changes the ids, so two demos with different seeds never share one.
Campaigns are listed biggest first: the traffic generator gives the first
campaigns of the catalog the most traffic, and the budgets below are sized for
the demo's 2 million events over 60 days, so that some run out on the way.
Each creative's name starts with its advertiser's name, which is how the
traffic generator pairs creatives with campaigns.
"""

import hashlib

CatalogDocument = dict[str, list[dict[str, object]]]

# key, name, currency, timezone
_ACCOUNTS = (
    ("paris", "Démo Média France", "EUR", "Europe/Paris"),
    ("tokyo", "Demo Media Japan", "JPY", "Asia/Tokyo"),
)

# key, account key, name
_ADVERTISERS = (
    ("technova", "paris", "TechNova"),
    ("horizon", "paris", "Banque Horizon"),
    ("lumiere", "paris", "Maison Lumière"),
    ("velo", "paris", "Vélo Urbain"),
    ("arome", "paris", "Café Arôme"),
    ("sakura", "tokyo", "Sakura Travel"),
    ("kaze", "tokyo", "Kaze Mobile"),
)

# key, advertiser key, name, budget (None: no budget)
_CAMPAIGNS: tuple[tuple[str, str, str, str | None], ...] = (
    ("nova-launch", "technova", "NovaPhone 12 — Lancement", None),
    ("young", "horizon", "Compte Jeunes — Rentrée", "350.00"),
    ("sales", "lumiere", "Soldes d'hiver -50 %", None),
    ("vu7", "velo", "VU-7 électrique, la vidéo de lancement", "400.00"),
    ("tasting", "arome", "Dégustation offerte : inscrivez-vous !", None),
    ("mortgage", "horizon", "Prêt immobilier « taux fixe »", "250.00"),
    ("spring", "lumiere", "Collection Printemps", "5000.00"),
    ("nova-retarget", "technova", "Accessoires — Retargeting", None),
    ("brand", "arome", "Brand video « L'arôme du matin »", None),
    ("test-ride", "velo", "Essai gratuit en magasin", "90.00"),
    ("kyoto", "sakura", "Spring in Kyoto 春の京都", "8000"),
    ("unlimited", "kaze", "Kaze 5G Unlimited", None),
)

# campaign key, name, pricing model, price, budget (None: no budget)
_INSERTIONS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("nova-launch", "Habillage page d'accueil — CPM", "cpm", "9.50", None),
    ("nova-launch", "Pré-roll — CPV", "cpv", "0.06", None),
    ("nova-launch", "Vidéo vue en entier — CPCV", "cpcv", "0.12", "500.00"),
    ("nova-launch", "Format interactif — CPE", "cpe", "0.35", None),
    ("young", "Ciblage 18-25 ans — CPC", "cpc", "0.85", None),
    ("young", "Display visible — vCPM", "vcpm", "6.00", None),
    ("sales", "Retargeting — CPC", "cpc", "0.45", "60.00"),
    ("sales", "Display run of network — CPM", "cpm", "3.20", None),
    ("vu7", "Pré-roll — CPV", "cpv", "0.04", None),
    ("vu7", "Vue complète — CPCV", "cpcv", "0.09", None),
    ("vu7", "Outstream visible — vCPM", "vcpm", "8.50", None),
    ("tasting", "Formulaire de dégustation — CPE", "cpe", "0.25", None),
    ("tasting", "Bannière — CPC", "cpc", "0.60", "45.00"),
    ("tasting", "Bannière — CPM", "cpm", "2.40", None),
    ("mortgage", "Simulateur — CPC", "cpc", "1.40", None),
    ("mortgage", "Rubrique Immobilier — vCPM", "vcpm", "11.00", None),
    ("spring", "Display — CPM", "cpm", "4.80", None),
    ("spring", "Quiz déco — CPE", "cpe", "0.15", None),
    ("spring", "Display visible — vCPM", "vcpm", "7.20", None),
    ("nova-retarget", "Retargeting — CPC", "cpc", "0.30", None),
    ("nova-retarget", "Display — CPM", "cpm", "2.10", "8.00"),
    ("brand", "Pré-roll — CPV", "cpv", "0.03", None),
    ("brand", "Vue complète — CPCV", "cpcv", "0.07", None),
    ("brand", "Premium visible — CPM", "cpm", "12.00", None),
    ("test-ride", "Prise de rendez-vous — CPC", "cpc", "0.95", None),
    ("test-ride", "Carrousel — CPE", "cpe", "0.40", None),
    ("kyoto", "Travel section — CPM", "cpm", "450", None),
    ("kyoto", "Booking — CPC", "cpc", "60", "400"),
    ("kyoto", "Pre-roll — CPV", "cpv", "8", None),
    ("unlimited", "Viewable — vCPM", "vcpm", "900", None),
    ("unlimited", "Completed view — CPCV", "cpcv", "15", None),
)

# key, advertiser key, name, format
_CREATIVES = (
    ("nova-banner", "technova", "TechNova — NovaPhone 12 300x250", "display"),
    ("nova-skin", "technova", "TechNova — Habillage NovaPhone 12", "display"),
    ("nova-spot", "technova", "TechNova — Spot NovaPhone 12 (20 s)", "video"),
    ("horizon-banner", "horizon", "Banque Horizon — Compte Jeunes 728x90", "display"),
    ("horizon-sim", "horizon", "Banque Horizon — Simulateur de prêt", "display"),
    ("horizon-spot", "horizon", "Banque Horizon — Spot « Vos projets »", "video"),
    ("lumiere-banner", "lumiere", "Maison Lumière — Soldes 300x600", "display"),
    ("lumiere-quiz", "lumiere", "Maison Lumière — Quiz « Votre déco »", "display"),
    ("lumiere-spot", "lumiere", "Maison Lumière — Printemps (15 s)", "video"),
    ("velo-banner", "velo", "Vélo Urbain — Essai gratuit 320x100", "display"),
    ("velo-spot", "velo", "Vélo Urbain — VU-7, spot 30 s", "video"),
    ("velo-cut", "velo", "Vélo Urbain — VU-7, version courte 15 s", "video"),
    ("arome-form", "arome", "Café Arôme — Formulaire dégustation", "display"),
    ("arome-poll", "arome", "Café Arôme — Sondage : expresso ou filtre ?", "display"),
    ("arome-spot", "arome", "Café Arôme — L'arôme du matin (20 s)", "video"),
    ("sakura-banner", "sakura", "Sakura Travel — Kyoto 300x250", "display"),
    ("sakura-spot", "sakura", "Sakura Travel — Hanami 15 s", "video"),
    ("kaze-banner", "kaze", "Kaze Mobile — 5G 728x90", "display"),
    ("kaze-spot", "kaze", "Kaze Mobile — Unlimited 20 s", "video"),
)

# Editorial pages, shared by every account; appending keeps the older ids.
_CONTENTS = (
    "Réforme des retraites : ce qui change au 1er janvier",
    "Les 10 plus belles randonnées des Alpes, testées et approuvées",
    "Recette : la vraie tarte Tatin de grand-mère",
    "« On ne lâchera rien » : les agriculteurs manifestent à Paris",
    "How to brew the perfect pour-over coffee",
    "Électricité : pourquoi votre facture va augmenter",
    "Ligue 1 : Lyon s'impose face à Marseille (2-1)",
    "Tour de France : le parcours dévoilé étape par étape",
    "The 'quiet quitting' trend, explained",
    "Télétravail : 5 conseils pour rester productif",
    "Vélo électrique : lequel choisir cette année ?",
    "Immobilier : les taux de crédit repartent à la baisse",
    "Review: the best noise-cancelling headphones of the year",
    "Météo : un week-end ensoleillé sur toute la France ☀️",
    "Festival de Cannes : le palmarès complet",
    "Cinq films à voir cette semaine au cinéma",
    "Budget : ce que contient le projet de loi de finances",
    "Why sourdough is having a moment, again",
    "Jardinage : que planter en mars ?",
    "Intelligence artificielle : faut-il en avoir peur ?",
    "Jeux olympiques : les sites, un par un",
    "Santé : le sommeil, clé d'une bonne mémoire",
    "Travel: 48 hours in Lyon, France's food capital",
    "Épargne : Livret A, LEP, assurance-vie… que choisir ?",
    "Le guide des marchés de Noël en Alsace",
    "Smartphones : les meilleurs modèles à moins de 300 €",
    "« Le jazz, c'est la liberté » : rencontre avec une pianiste de 19 ans",
    "Rugby : le XV de France prépare le Tournoi des Six Nations",
    "Climate: what the latest report really says",
    "Mode : les tendances printemps-été, du lin au crochet",
    "Cuisine japonaise : réussir ses ramens maison",
    "Home office: 7 ergonomic fixes under $50",
    "Consommation : le prix des pâtes, du café et du beurre en hausse",
    "Éducation : la réforme du bac expliquée aux parents",
    'Startups: the "default alive" question every founder should ask',
    "Voyage : Kyoto hors des sentiers battus",
    "Automobile : essai de la nouvelle citadine électrique",
    "Podcast : comment les Français s'informent-ils ?",
    "Astronomie : observer les Perséides depuis son jardin",
    "Finances perso : 3 erreurs à éviter avant 30 ans",
)


def demo_catalog(seed: int = 7) -> CatalogDocument:
    """The demo catalog document; the same seed always gives the same ids."""
    ids = _Ids(seed)
    return {
        "accounts": _accounts(ids),
        "advertisers": _advertisers(ids),
        "campaigns": _campaigns(ids),
        "insertions": _insertions(ids),
        "contents": _contents(ids),
        "creatives": _creatives(ids),
    }


class _Ids:
    """Ids derived from the seed and a stable key, never from list positions of
    things that may be reordered."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __call__(self, kind: str, key: str) -> str:
        text = f"adstats-demo/{self.seed}/{kind}/{key}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]


_ACCOUNT_OF_ADVERTISER = {key: account for key, account, _ in _ADVERTISERS}


def _accounts(ids: _Ids) -> list[dict[str, object]]:
    return [
        {
            "id": ids("account", key),
            "name": name,
            "currency": currency,
            "timezone": timezone,
        }
        for key, name, currency, timezone in _ACCOUNTS
    ]


def _advertisers(ids: _Ids) -> list[dict[str, object]]:
    return [
        {
            "id": ids("advertiser", key),
            "account_id": ids("account", account),
            "name": name,
        }
        for key, account, name in _ADVERTISERS
    ]


def _campaigns(ids: _Ids) -> list[dict[str, object]]:
    return [
        _without_none(
            {
                "id": ids("campaign", key),
                "account_id": ids("account", _ACCOUNT_OF_ADVERTISER[advertiser]),
                "advertiser_id": ids("advertiser", advertiser),
                "name": name,
                "budget": budget,
            }
        )
        for key, advertiser, name, budget in _CAMPAIGNS
    ]


def _insertions(ids: _Ids) -> list[dict[str, object]]:
    return [
        _without_none(
            {
                "id": ids("insertion", f"{campaign}/{model}"),
                "campaign_id": ids("campaign", campaign),
                "name": name,
                "pricing_model": model,
                "price": price,
                "budget": budget,
            }
        )
        for campaign, name, model, price, budget in _INSERTIONS
    ]


def _contents(ids: _Ids) -> list[dict[str, object]]:
    return [
        {"id": ids("content", str(index)), "name": name}
        for index, name in enumerate(_CONTENTS)
    ]


def _creatives(ids: _Ids) -> list[dict[str, object]]:
    return [
        {
            "id": ids("creative", key),
            "account_id": ids("account", _ACCOUNT_OF_ADVERTISER[advertiser]),
            "name": name,
            "format": creative_format,
        }
        for key, advertiser, name, creative_format in _CREATIVES
    ]


def _without_none(item: dict[str, object]) -> dict[str, object]:
    # An absent budget reads better in the file than "budget": null.
    return {name: value for name, value in item.items() if value is not None}
