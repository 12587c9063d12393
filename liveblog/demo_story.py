"""Demo live-blog story data: the delayed Musk-Trump interview on X (Indonesian).

This module does no I/O.
"""

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class DemoUpdate:
    """One update of the demo live blog, as the desk would publish it."""

    at: datetime
    author: str
    body: str
    verification: str
    note: str
    key_event: bool = False
    pinned: bool = False
    correction: str = ""
    edited_body: str = ""


DEMO_SLUG: str = "wawancara-musk-trump-x-tersendat"

DEMO_TITLE: str = "Wawancara Musk dan Trump di X Macet di Awal, Baru Mulai Hampir Sejam Kemudian"

DEMO_SUMMARY: str = (
    "Perbincangan Elon Musk dengan Donald Trump di X molor hampir satu jam karena "
    "gangguan yang oleh Musk disebut serangan siber, klaim yang belum dapat "
    "diverifikasi secara independen. Setelah berjalan sekitar pukul 20.45 ET, "
    "siaran diikuti sedikitnya satu juta pendengar menurut penghitung X Spaces."
)

DEMO_LANGUAGE: str = "id"

DEMO_TIMEZONE: str = "Asia/Jakarta"

# 19.50 ET on Monday 12 August 2024 (EDT, UTC-4) = 06.50 WIB on Tuesday 13 August.
DEMO_STARTED_AT: datetime = datetime(2024, 8, 12, 23, 50, tzinfo=UTC)

DEMO_AUTHORS: dict[str, tuple[str, str]] = {
    "rina": ("Rina Kusumawati", "editor"),
    "bagus": ("Bagus Prasetyo", "reporter"),
    "dewi": ("Dewi Anggraini", "reporter"),
}

_PINNED_BODY: str = (
    "<p><strong>Yang kami ketahui sejauh ini:</strong></p>"
    "<ul>"
    "<li>Perbincangan Elon Musk dan Donald Trump di X dijadwalkan mulai pukul "
    "20.00 ET Senin (12/8), atau 07.00 WIB Selasa (13/8).</li>"
    "<li>Beberapa menit lewat dari jadwal, siaran belum berjalan normal.</li>"
    "</ul>"
    "<p>Ringkasan ini akan terus kami perbarui.</p>"
)

_PINNED_EDITED_BODY: str = (
    "<p><strong>Yang kami ketahui sejauh ini:</strong></p>"
    "<ul>"
    "<li>Siaran yang dijadwalkan pukul 20.00 ET (07.00 WIB) tersendat; banyak "
    "pengguna tidak bisa bergabung.</li>"
    "<li>Sekitar pukul 20.20 ET, Musk menyebut serangan siber sebagai penyebab. "
    "<em>Klaim ini belum dapat diverifikasi secara independen.</em></li>"
    "<li>Musk mengatakan X sudah menguji delapan juta pendengar serentak pada "
    "hari yang sama. <em>Ini klaim perusahaan dan belum diverifikasi.</em></li>"
    "<li>Perbincangan akhirnya dimulai sekitar pukul 20.45 ET (07.45 WIB).</li>"
    "<li>Penghitung X Spaces menunjukkan sedikitnya satu juta pendengar.</li>"
    "<li>Trump kembali mengulang klaim soal imigrasi dan kejahatan yang sudah "
    "dibantah sebelumnya.</li>"
    "</ul>"
)

DEMO_UPDATES: tuple[DemoUpdate, ...] = (
    # 19.55 ET
    DemoUpdate(
        at=datetime(2024, 8, 12, 23, 55, tzinfo=UTC),
        author="bagus",
        body=(
            "<p>Selamat pagi dari meja redaksi. Kami akan mengikuti secara langsung "
            "perbincangan antara Elon Musk dan mantan Presiden AS Donald Trump yang "
            "disiarkan di platform X. Acara dijadwalkan mulai pukul 20.00 ET Senin "
            "(12/8), atau 07.00 WIB Selasa (13/8).</p>"
            "<p>Siaran audio ini digelar lewat fitur X Spaces, dengan Musk sebagai "
            'tuan rumah dari akun <a href="https://x.com/elonmusk">@elonmusk</a>.</p>'
        ),
        verification="confirmed",
        note="Jadwal sesuai pengumuman yang beredar sebelum acara.",
    ),
    # 20.03 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 0, 3, tzinfo=UTC),
        author="rina",
        body=_PINNED_BODY,
        verification="confirmed",
        note=(
            "Ringkasan hanya memuat hal yang diamati langsung oleh redaksi; klaim "
            "yang belum terverifikasi ditandai secara jelas."
        ),
        pinned=True,
        edited_body=_PINNED_EDITED_BODY,
    ),
    # 20.08 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 0, 8, tzinfo=UTC),
        author="bagus",
        body=(
            "<p><strong>Jadwal molor.</strong> Sudah delapan menit lewat dari pukul "
            "20.00 ET, tetapi siaran belum juga berjalan. Banyak pengguna "
            '<a href="https://x.com/">X</a> mengeluh tidak bisa masuk ke siaran '
            "langsung tersebut.</p>"
            "<p>Tim kami juga belum berhasil bergabung dari beberapa perangkat.</p>"
        ),
        verification="confirmed",
        note=(
            "Dikonfirmasi: redaksi mengamati langsung bahwa siaran belum dimulai "
            "dan gagal dibuka dari perangkat kami."
        ),
        key_event=True,
    ),
    # 20.22 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 0, 22, tzinfo=UTC),
        author="dewi",
        body=(
            "<p><strong>Musk salahkan serangan siber.</strong> Tak lama setelah "
            "pukul 20.20 ET, Musk menulis di X bahwa layar yang membeku disebabkan "
            "oleh serangan siber. Ia tidak merinci bentuk serangan tersebut.</p>"
            "<p>Sebagai catatan, selama gangguan berlangsung, fitur-fitur X yang lain "
            "tetap bisa dipakai seperti biasa.</p>"
        ),
        verification="unverified",
        note=(
            "Klaim serangan siber berasal dari Musk sendiri dan tidak dapat "
            "diverifikasi secara independen. Bagian lain platform X tetap berfungsi "
            "selama gangguan."
        ),
        key_event=True,
    ),
    # 20.26 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 0, 26, tzinfo=UTC),
        author="dewi",
        body=(
            "<p>Musk juga menyebut bahwa X sudah menguji sistemnya dengan delapan "
            "juta pendengar serentak lebih awal pada hari Senin itu. Menurut dia, "
            "uji coba tersebut dilakukan agar siaran sebesar ini tidak terganggu "
            "masalah teknis.</p>"
        ),
        verification="unverified",
        note=(
            "Angka uji coba ini klaim perusahaan sendiri; redaksi belum menemukan "
            "data independen yang mendukungnya."
        ),
    ),
    # 20.29 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 0, 29, tzinfo=UTC),
        author="bagus",
        body=(
            "<p>Musk mengumumkan perbincangan akan dilanjutkan pukul 20.30 WIB "
            "bersama siapa saja yang sudah berhasil masuk ke siaran. Rekaman audio "
            "utuh tanpa suntingan, katanya, akan diunggah tak lama setelahnya.</p>"
        ),
        verification="unverified",
        note=(
            "Ini rencana yang diumumkan Musk; redaksi akan mencatat kapan siaran "
            "benar-benar dimulai."
        ),
        correction=(
            "Koreksi: versi awal pembaruan ini keliru menulis pukul 20.30 WIB. "
            "Yang dimaksud adalah pukul 20.30 ET, atau 07.30 WIB. Teks sudah kami "
            "perbaiki."
        ),
        edited_body=(
            "<p>Musk mengumumkan perbincangan akan dilanjutkan pukul 20.30 ET "
            "(07.30 WIB) bersama siapa saja yang sudah berhasil masuk ke siaran. "
            "Rekaman audio utuh tanpa suntingan, katanya, akan diunggah tak lama "
            "setelahnya.</p>"
        ),
    ),
    # 20.34 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 0, 34, tzinfo=UTC),
        author="dewi",
        body=(
            "<p>Ketika dimintai tanggapan soal kendala teknis ini, juru bicara "
            "kampanye Trump, Steven Cheung, hanya merujuk pada unggahan Musk di "
            "X.</p>"
        ),
        verification="confirmed",
        note=(
            "Tanggapan juru bicara kampanye dilaporkan oleh CNBC, yang mengajukan "
            "permintaan komentar."
        ),
    ),
    # 20.39 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 0, 39, tzinfo=UTC),
        author="rina",
        body=(
            "<p><strong>Konteks:</strong> ini bukan pertama kalinya acara politik "
            "besar di X tersandung. Pada 2023, Gubernur Florida Ron DeSantis "
            "mengumumkan pencalonan presidennya di platform yang sama, dan acara "
            "itu juga berantakan karena masalah teknis.</p>"
            "<p>Bagi kubu Trump, acara malam ini dipromosikan sebagai cara "
            "membangkitkan lagi dukungan. Tiga minggu terakhir berjalan penuh "
            "gejolak bagi kampanyenya: Joe Biden menarik diri dari pencalonan, "
            "lalu Partai Demokrat beralih mengusung Kamala Harris, yang mendapat "
            "dukungan Biden.</p>"
        ),
        verification="confirmed",
        note="Latar belakang berdasarkan peristiwa yang sudah terdokumentasi luas.",
    ),
    # 20.46 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 0, 46, tzinfo=UTC),
        author="bagus",
        body=(
            "<p><strong>Siaran akhirnya dimulai.</strong> Sekitar pukul 20.45 ET "
            "(07.45 WIB), hampir satu jam setelah jadwal, perbincangan mulai "
            "terdengar. Di awal, Musk menekankan bahwa acara ini dimaksudkan "
            "sebagai obrolan, supaya pendengar mendapat gambaran seperti apa Trump "
            "ketika diajak bercakap-cakap.</p>"
            "<figure><blockquote><p>Menurut Musk, serangan sebesar itu menunjukkan "
            "banyak pihak tidak ingin publik mendengar langsung apa yang hendak "
            "disampaikan Trump. Meski begitu, ia mengaku merasa terhormat bisa "
            "menggelar perbincangan ini.</p></blockquote>"
            "<figcaption>Parafrase pernyataan Elon Musk di awal siaran."
            "</figcaption></figure>"
        ),
        verification="confirmed",
        note=(
            "Dikonfirmasi: redaksi mendengarkan langsung siaran yang mulai sekitar "
            "pukul 20.45 ET. Klaim serangan siber dalam pernyataan Musk tetap belum "
            "terverifikasi."
        ),
        key_event=True,
    ),
    # 20.52 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 0, 52, tzinfo=UTC),
        author="dewi",
        body=(
            "<p><strong>Sedikitnya satu juta pendengar.</strong> Penghitung di X "
            "Spaces menunjukkan paling tidak satu juta orang sedang mengikuti "
            "perbincangan ini.</p>"
        ),
        verification="confirmed",
        note=(
            "Angka berdasarkan penghitung pendengar X Spaces yang terlihat oleh "
            "redaksi; angka ini dihitung oleh platform itu sendiri."
        ),
        key_event=True,
    ),
    # 20.57 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 0, 57, tzinfo=UTC),
        author="bagus",
        body=(
            "<p>Setelah perbincangan berjalan, Cheung justru terkesan merayakan "
            "gangguan tadi. Lewat akunnya di X, ia memuji Musk dan Trump karena "
            "menarik begitu banyak orang sampai internet kewalahan, disertai foto "
            "Trump yang berbicara di telepon dengan pengeras suara.</p>"
        ),
        verification="confirmed",
        note="Unggahan tersebut dapat dilihat publik di akun Cheung di X.",
    ),
    # 21.08 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 1, 8, tzinfo=UTC),
        author="dewi",
        body=(
            "<p>Sekitar 20 menit pertama perbincangan diisi cerita Trump tentang "
            "upaya pembunuhan terhadap dirinya pada Juli lalu di Butler, "
            "Pennsylvania. Dalam insiden di acara kampanye itu, seorang penonton "
            "tewas.</p>"
        ),
        verification="confirmed",
        note=(
            "Redaksi mendengarkan langsung bagian ini; insiden Butler sudah terdokumentasi luas."
        ),
    ),
    # 21.19 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 1, 19, tzinfo=UTC),
        author="bagus",
        body=(
            "<p>Trump lalu beralih ke kisah-kisah yang sudah akrab bagi pengikut "
            "kampanyenya, antara lain soal Vladimir Putin dari Rusia, Kim Jong Un "
            "dari Korea Utara, serta pandangannya terhadap NATO.</p>"
            "<p>Ia juga kembali melontarkan klaim soal imigrasi dan kejahatan yang "
            "biasa ia ulang dalam kampanye. <em>Klaim-klaim itu tidak berdasar dan "
            "sebelumnya sudah dibantah.</em></p>"
        ),
        verification="false",
        note=(
            "Keliru: klaim imigrasi dan kejahatan ini mengulang pernyataan kampanye "
            "yang sebelumnya sudah dibantah."
        ),
    ),
    # 21.30 ET
    DemoUpdate(
        at=datetime(2024, 8, 13, 1, 30, tzinfo=UTC),
        author="rina",
        body=(
            "<p><strong>Kami menutup liputan langsung untuk saat ini.</strong> "
            "Ringkasnya: siaran yang dijadwalkan pukul 20.00 ET baru berjalan "
            "sekitar pukul 20.45 ET, setelah gangguan yang oleh Musk disebut "
            "serangan siber. Klaim itu hingga kini belum dapat diverifikasi secara "
            "independen. Penghitung X Spaces mencatat sedikitnya satu juta "
            "pendengar.</p>"
            "<p>Ini berita yang masih berkembang. Kunjungi kembali halaman ini "
            "untuk pembaruan berikutnya.</p>"
        ),
        verification="confirmed",
        note=(
            "Berita yang sedang berkembang; status setiap klaim dapat berubah jika "
            "ada informasi baru."
        ),
        key_event=True,
    ),
)
