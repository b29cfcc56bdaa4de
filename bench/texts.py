"""Sentence templates for the benchmark mailbox, English and Indonesian (invented for it).

Slots: {case} (order, invoice or customer number), {amount}, {date}, {days}, {hours}, {device},
{city}, {product}, {years}. The generator picks and combines them, so no two mails read the same.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "id"]

TOPICS = (
    "account-access",
    "billing",
    "cancellation",
    "data-change",
    "delivery",
    "document-request",
    "general-inquiry",
    "refund",
    "service-complaint",
    "technical-issue",
)

GREETINGS: dict[Lang, tuple[str, ...]] = {
    "en": ("Hello,", "Hi there,", "Dear support team,", "Good morning,", "Hi,", "Dear Sir or Madam,", "Hello team,"),
    "id": (
        "Selamat pagi,",
        "Halo kak,",
        "Selamat siang admin,",
        "Dengan hormat,",
        "Halo,",
        "Permisi min,",
        "Selamat sore,",
    ),
}
CLOSINGS: dict[Lang, tuple[str, ...]] = {
    "en": ("Thanks,", "Regards,", "Best wishes,", "Kind regards,", "Many thanks,", "Cheers,", "Thank you,"),
    "id": ("Terima kasih,", "Salam,", "Hormat saya,", "Terima kasih banyak,", "Makasih,", "Wassalam,"),
}
FILLERS: dict[Lang, tuple[str, ...]] = {
    "en": (
        "I have been your customer for {years} years and never had an issue like this.",
        "This is quite urgent for my small business in {city}.",
        "I tried calling but the line was busy for over an hour.",
        "My neighbour has the same {product} plan and it works fine for them.",
        "I work from home so this affects my job directly.",
        "Please note I will be travelling next week and only reachable by email.",
        "I am writing on behalf of my elderly mother who holds the account.",
        "Our office has five staff who all depend on this connection.",
    ),
    "id": (
        "Saya sudah berlangganan selama {years} tahun dan baru kali ini ada masalah seperti ini.",
        "Ini cukup mendesak karena saya punya usaha kecil di {city}.",
        "Saya sudah coba telepon tapi antreannya lama sekali.",
        "Tetangga saya pakai paket {product} yang sama dan tidak ada masalah.",
        "Saya kerja dari rumah jadi ini sangat mengganggu pekerjaan saya.",
        "Mohon maaf kalau email saya kurang jelas, saya baru pertama kali menghubungi.",
        "Saya menulis atas nama orang tua saya yang terdaftar sebagai pemilik akun.",
        "Kantor kami ada lima orang yang semuanya bergantung pada koneksi ini.",
    ),
}

SUBJECTS: dict[Lang, dict[str, tuple[str, ...]]] = {
    "en": {
        "account-access": ("Cannot log in to my account", "Password reset email never arrives", "Account locked"),
        "billing": ("Charged twice this month", "Wrong amount on invoice {case}", "Unexpected charge of {amount}"),
        "cancellation": ("Please cancel my subscription", "Cancel {product} plan", "Terminate contract"),
        "data-change": ("Change my email address", "Update my billing address", "New phone number on file"),
        "delivery": ("Where is my order {case}?", "Router not delivered yet", "Parcel stuck in {city}"),
        "document-request": ("Copy of my contract please", "Tax invoice for {date}", "Need a statement letter"),
        "general-inquiry": ("Question about your plans", "Is fibre available in {city}?", "Pricing for {product}"),
        "refund": ("Refund for order {case}", "Still waiting for my refund", "Money back for cancelled order"),
        "service-complaint": ("Complaint about your technician", "Very disappointed", "Terrible service"),
        "technical-issue": ("Internet keeps dropping", "No internet since {date}", "Very slow connection"),
    },
    "id": {
        "account-access": ("Tidak bisa login", "Kode OTP tidak masuk", "Akun saya terkunci"),
        "billing": ("Tagihan bulan ini tidak sesuai", "Tagihan dobel {case}", "Kenapa ditagih {amount}?"),
        "cancellation": ("Mohon berhenti berlangganan", "Pemutusan layanan {product}", "Berhenti langganan"),
        "data-change": ("Ganti nomor HP", "Perubahan alamat email", "Ubah data pelanggan"),
        "delivery": ("Pesanan {case} belum sampai", "Paket belum diterima", "Status pengiriman router"),
        "document-request": ("Minta salinan kontrak", "Permintaan faktur pajak", "Surat keterangan berlangganan"),
        "general-inquiry": ("Tanya paket internet", "Apakah tersedia di {city}?", "Info harga {product}"),
        "refund": ("Pengembalian dana {case}", "Refund belum masuk", "Uang belum dikembalikan"),
        "service-complaint": ("Keluhan pelayanan teknisi", "Sangat kecewa", "Pelayanan buruk sekali"),
        "technical-issue": ("Internet putus-putus", "Internet mati sejak {date}", "Koneksi sangat lambat"),
    },
}

OPENINGS: dict[Lang, dict[str, tuple[str, ...]]] = {
    "en": {
        "account-access": (
            "I cannot log in to my account since yesterday, it says my password is incorrect.",
            "I clicked forgot password three times but the reset email never arrives.",
            "My account has been locked after a few failed login attempts.",
        ),
        "billing": (
            "I was charged twice for invoice {case} this month.",
            "My bill for {date} shows {amount}, which is more than my {product} plan costs.",
            "There is an unexpected charge of {amount} on my statement that I do not recognise.",
        ),
        "cancellation": (
            "I would like to cancel my {product} subscription at the end of this month.",
            "Please cancel my contract, I am moving abroad in {days} days.",
            "I want to terminate my service because I no longer need it.",
        ),
        "data-change": (
            "I need to change my email address on file to a new one.",
            "Please update my address, we moved to {city} last month.",
            "I have a new phone number and want to update my details.",
        ),
        "delivery": (
            "My order {case} has not arrived yet although it was shipped {days} days ago.",
            "The tracking for order {case} has shown the parcel in {city} for a week.",
            "The courier marked order {case} as delivered but I never received the {device}.",
        ),
        "document-request": (
            "Could you send me a copy of my contract for customer number {case}?",
            "I need a tax invoice for my payments since {date} for my accountant.",
            "My bank asks for an official letter confirming my subscription.",
        ),
        "general-inquiry": (
            "I am a new customer and would like to know which plan suits a family of five.",
            "Is your fibre service available at my address in {city}?",
            "How much does the {product} plan cost per month and is there a minimum contract?",
        ),
        "refund": (
            "I cancelled order {case} on {date} and I am still waiting for my refund of {amount}.",
            "You promised a refund for order {case} within {days} days but nothing has arrived.",
            "Please return my money for order {case}, the {device} was faulty.",
        ),
        "service-complaint": (
            "I want to make a complaint about the technician who visited on {date}.",
            "I am very disappointed with the service I received at your {city} office.",
            "The agent on the phone was rude and hung up on me.",
        ),
        "technical-issue": (
            "My internet keeps dropping every few minutes since {date}.",
            "There has been no internet connection at my home in {city} for {hours} hours.",
            "The connection is very slow, a speed test shows 2 Mbps on my {product} plan.",
        ),
    },
    "id": {
        "account-access": (
            "Saya tidak bisa login ke aplikasi sejak kemarin, katanya kata sandi salah.",
            "Kode OTP tidak pernah masuk ke HP saya walaupun sudah kirim ulang.",
            "Akun saya terkunci setelah salah memasukkan password beberapa kali.",
        ),
        "billing": (
            "Tagihan saya bulan ini dobel, nomor tagihan {case}.",
            "Tagihan bulan {date} sebesar {amount}, padahal paket {product} saya tidak berubah.",
            "Ada biaya tambahan {amount} di tagihan saya yang saya tidak mengerti.",
        ),
        "cancellation": (
            "Saya mau berhenti berlangganan paket {product} mulai bulan depan.",
            "Mohon bantu pemutusan layanan karena saya pindah kota dalam {days} hari.",
            "Saya ingin menutup layanan karena sudah tidak dipakai lagi.",
        ),
        "data-change": (
            "Saya mau ganti nomor HP yang terdaftar di akun saya.",
            "Mohon ubah alamat saya, kami sudah pindah ke {city} bulan lalu.",
            "Alamat email saya yang lama sudah tidak aktif, mohon diganti.",
        ),
        "delivery": (
            "Pesanan saya {case} belum sampai padahal sudah dikirim {days} hari yang lalu.",
            "Status pesanan {case} masih di gudang {city} sejak seminggu.",
            "Kurir bilang pesanan {case} sudah diterima tapi {device} tidak pernah sampai ke saya.",
        ),
        "document-request": (
            "Saya minta salinan kontrak berlangganan untuk nomor pelanggan {case}.",
            "Saya butuh faktur pajak untuk pembayaran sejak {date}.",
            "Bank saya minta surat keterangan berlangganan dari perusahaan.",
        ),
        "general-inquiry": (
            "Saya calon pelanggan baru, mau tanya paket apa yang cocok untuk keluarga.",
            "Apakah layanan fiber sudah tersedia di daerah saya di {city}?",
            "Berapa harga paket {product} per bulan dan apakah ada kontrak minimum?",
        ),
        "refund": (
            "Saya sudah membatalkan pesanan {case} tanggal {date} tapi uang belum dikembalikan.",
            "Katanya pengembalian dana untuk pesanan {case} paling lama {days} hari, tapi belum masuk.",
            "Mohon refund untuk pesanan {case} karena {device} yang dikirim rusak.",
        ),
        "service-complaint": (
            "Saya mau menyampaikan keluhan tentang teknisi yang datang tanggal {date}.",
            "Saya sangat kecewa dengan pelayanan di kantor {city}.",
            "Petugas di telepon tidak sopan dan langsung menutup telepon.",
        ),
        "technical-issue": (
            "Internet saya putus-putus terus sejak {date}.",
            "Sudah {hours} jam internet di rumah saya di {city} mati total.",
            "Koneksi sangat lambat, speed test cuma 2 Mbps padahal paket {product}.",
        ),
    },
}

DETAILS: dict[Lang, dict[str, tuple[str, ...]]] = {
    "en": {
        "account-access": (
            "I have cleared my cookies and tried another browser.",
            "The verification code goes to my old number.",
            "I use the app on an Android phone and on my laptop.",
            "The error message says session expired.",
        ),
        "billing": (
            "Both payments of {amount} were taken from my card on the same day.",
            "I paid by bank transfer on {date} and kept the receipt.",
            "My customer number is {case}.",
            "Last month the bill was much lower.",
        ),
        "cancellation": (
            "The {device} can be picked up any weekday after five.",
            "I have paid all my bills up to now.",
            "I do not want to be charged for next month.",
        ),
        "data-change": (
            "My old email was registered {years} years ago.",
            "My customer number is {case}.",
            "Please send the next invoice to the new address.",
        ),
        "delivery": (
            "The tracking page has not changed for {days} days.",
            "Nobody called me before the delivery.",
            "I paid {amount} including shipping.",
            "I was at home all day on {date}.",
        ),
        "document-request": (
            "It should include the start date and the monthly fee.",
            "A PDF by email is fine.",
            "I need it before the end of the month.",
        ),
        "general-inquiry": (
            "We mostly stream video and have two people working from home.",
            "I currently pay {amount} to another provider.",
            "We live in an apartment building on the fifth floor.",
        ),
        "refund": (
            "The refund was supposed to go back to my credit card.",
            "I returned the {device} by courier on {date}.",
            "The amount is {amount}.",
            "Your agent confirmed the cancellation by phone.",
        ),
        "service-complaint": (
            "He arrived three hours late and left without fixing anything.",
            "Nobody apologised and I had to take a day off for nothing.",
            "This is not the first time this happened.",
        ),
        "technical-issue": (
            "I already restarted the {device} several times.",
            "The red LOS light on the {device} is blinking.",
            "It happens mostly in the evening between seven and eleven.",
            "Cable and settings have not changed.",
        ),
    },
    "id": {
        "account-access": (
            "Saya sudah coba hapus cache dan install ulang aplikasi.",
            "Kode verifikasi malah dikirim ke nomor lama saya.",
            "Saya pakai HP Android dan juga laptop.",
            "Muncul pesan sesi kedaluwarsa setiap kali login.",
        ),
        "billing": (
            "Dua kali pembayaran {amount} terpotong dari rekening saya di hari yang sama.",
            "Saya sudah bayar lewat transfer bank tanggal {date} dan ada buktinya.",
            "Nomor pelanggan saya {case}.",
            "Bulan lalu tagihannya jauh lebih kecil.",
        ),
        "cancellation": (
            "Perangkat {device} bisa diambil hari kerja setelah jam lima sore.",
            "Semua tagihan sampai sekarang sudah saya lunasi.",
            "Saya tidak mau ditagih lagi untuk bulan depan.",
        ),
        "data-change": (
            "Email lama saya didaftarkan {years} tahun yang lalu.",
            "Nomor pelanggan saya {case}.",
            "Mohon tagihan berikutnya dikirim ke alamat baru.",
        ),
        "delivery": (
            "Status pengiriman tidak berubah selama {days} hari.",
            "Tidak ada yang menelepon saya sebelum pengiriman.",
            "Saya sudah bayar {amount} termasuk ongkos kirim.",
            "Saya ada di rumah seharian tanggal {date}.",
        ),
        "document-request": (
            "Mohon dicantumkan tanggal mulai dan biaya bulanan.",
            "Cukup dikirim dalam bentuk PDF lewat email.",
            "Saya butuh sebelum akhir bulan ini.",
        ),
        "general-inquiry": (
            "Kami sering streaming video dan ada dua orang kerja dari rumah.",
            "Sekarang saya bayar {amount} ke provider lain.",
            "Kami tinggal di apartemen lantai lima.",
        ),
        "refund": (
            "Dananya seharusnya dikembalikan ke kartu kredit saya.",
            "Saya sudah kirim balik {device} lewat kurir tanggal {date}.",
            "Jumlahnya {amount}.",
            "Petugas sudah konfirmasi pembatalan lewat telepon.",
        ),
        "service-complaint": (
            "Teknisi datang terlambat tiga jam dan pergi tanpa memperbaiki apa pun.",
            "Tidak ada yang minta maaf dan saya sudah izin kerja sehari.",
            "Ini bukan pertama kali terjadi.",
        ),
        "technical-issue": (
            "Saya sudah restart {device} berkali-kali.",
            "Lampu LOS merah di {device} berkedip terus.",
            "Biasanya terjadi malam hari antara jam tujuh sampai jam sebelas.",
            "Kabel dan pengaturan tidak ada yang diubah.",
        ),
    },
}

ASKS: dict[Lang, dict[str, tuple[str, ...]]] = {
    "en": {
        "account-access": ("Could you please unlock my account?", "How can I get back into my account?"),
        "billing": ("Could you please check the bill and refund the difference?", "Why was I charged this amount?"),
        "cancellation": ("Please confirm the cancellation in writing.", "What do I need to do to cancel?"),
        "data-change": ("Can you update it today?", "What documents do you need for the change?"),
        "delivery": ("When will the order be delivered?", "Can you tell me where my parcel is?"),
        "document-request": ("Could you email it to me this week?", "How long will it take to get the document?"),
        "general-inquiry": ("Which plan would you recommend?", "When could the installation be done?"),
        "refund": ("When will I get my money back?", "Please process the refund as soon as possible."),
        "service-complaint": ("I expect an apology and a new appointment.", "What will you do about this?"),
        "technical-issue": ("Can you send a technician?", "How can this be fixed?"),
    },
    "id": {
        "account-access": ("Mohon dibantu buka kunci akun saya.", "Bagaimana caranya supaya bisa masuk lagi?"),
        "billing": ("Mohon dicek dan kelebihannya dikembalikan.", "Kenapa saya ditagih sebesar ini?"),
        "cancellation": ("Mohon dikonfirmasi pemutusannya.", "Apa saja syarat untuk berhenti berlangganan?"),
        "data-change": ("Bisa diubah hari ini?", "Dokumen apa yang perlu saya kirim?"),
        "delivery": ("Kapan pesanan saya akan sampai?", "Tolong dicek posisi paket saya sekarang di mana."),
        "document-request": ("Bisa dikirim lewat email minggu ini?", "Berapa lama proses pembuatan suratnya?"),
        "general-inquiry": ("Paket mana yang disarankan?", "Kapan bisa dipasang?"),
        "refund": ("Kapan uang saya dikembalikan?", "Mohon refund segera diproses."),
        "service-complaint": ("Saya minta permintaan maaf dan jadwal ulang.", "Apa tindak lanjut dari keluhan ini?"),
        "technical-issue": ("Bisa kirim teknisi ke rumah?", "Bagaimana cara memperbaikinya?"),
    },
}

ANSWER: dict[Lang, tuple[str, ...]] = {
    "en": (
        "Thank you for contacting us, and sorry for the trouble.",
        "I have checked your account and reference {case} in our system.",
        "The change will be visible within {hours} hours.",
        "If anything is still unclear, just reply to this email.",
        "I have also added a note to your file so my colleagues know the history.",
    ),
    "id": (
        "Terima kasih sudah menghubungi kami, mohon maaf atas ketidaknyamanannya.",
        "Kami sudah cek data Bapak/Ibu dengan referensi {case}.",
        "Perubahan akan terlihat dalam {hours} jam.",
        "Jika masih ada yang kurang jelas, silakan balas email ini.",
        "Kami juga sudah mencatat riwayatnya supaya rekan kami tahu.",
    ),
}
CANNED: dict[Lang, tuple[str, ...]] = {
    "en": (
        "Thank you for your email. We apologise for the inconvenience. Your concern has been forwarded "
        "to the relevant team and we will update you as soon as possible.",
        "We appreciate your patience. Our team is looking into this matter and will contact you once "
        "there is an update. Thank you for choosing Nusantara Net.",
    ),
    "id": (
        "Terima kasih atas email Anda. Mohon maaf atas ketidaknyamanannya. Keluhan Anda sudah kami teruskan "
        "ke tim terkait dan akan kami informasikan secepatnya.",
        "Terima kasih atas kesabarannya. Tim kami sedang menangani hal ini dan akan menghubungi Anda jika "
        "sudah ada informasi terbaru.",
    ),
}
DEFLECT: dict[Lang, tuple[str, ...]] = {
    "en": (
        "Please visit our nearest office in {city} with your ID card so our staff can help you.",
        "For this request please call our call center at 1500-123, they will assist you.",
        "You can find the answer on our website in the FAQ section. Please visit our help center.",
    ),
    "id": (
        "Silakan datang langsung ke kantor layanan terdekat di {city} dengan membawa KTP.",
        "Untuk permintaan ini silakan hubungi call center kami di 1500-123.",
        "Informasi lengkapnya bisa dilihat di website kami pada halaman FAQ.",
    ),
}
ACK: dict[Lang, str] = {
    "en": "This is an automated reply. We have received your message and a ticket has been created "
    "(ticket number {ticket}). We will get back to you within 24 hours. Please do not reply "
    "to this email.\n\n{company} Customer Care",
    "id": "Balasan ini dikirim otomatis. Pesan Anda telah kami terima dengan nomor tiket {ticket}. "
    "Tim kami akan membalas dalam 1x24 jam. Mohon tidak membalas email ini.\n\n{company} Customer Care",
}
FOLLOWUP: dict[Lang, tuple[str, ...]] = {
    "en": (
        "Thanks for your reply but the problem is still not solved.",
        "As I mentioned before, this concerns {case}.",
        "I already wrote to you about this and nothing has changed.",
        "Could you please give me a clear answer this time?",
        "It is now {days} days and I am still waiting.",
    ),
    "id": (
        "Terima kasih balasannya tapi masalahnya masih belum selesai.",
        "Seperti yang saya sampaikan sebelumnya, ini tentang {case}.",
        "Saya sudah email sebelumnya dan belum ada perubahan.",
        "Mohon jawaban yang jelas kali ini.",
        "Sudah {days} hari dan saya masih menunggu.",
    ),
}
RECONTACT: dict[Lang, str] = {
    "en": "I already wrote to you about {case} and I am still waiting for an answer.",
    "id": "Saya sudah menghubungi sebelumnya tentang {case} dan belum ada jawaban.",
}
NUDGE: dict[Lang, tuple[str, ...]] = {
    "en": (
        "I wrote to you on {date} and I have not heard back.",
        "This is my second email about {case}.",
        "Is anyone reading these emails?",
        "Please reply, it has been {days} days.",
    ),
    "id": (
        "Saya sudah kirim email tanggal {date} tapi belum ada balasan.",
        "Ini email kedua saya tentang {case}.",
        "Apakah email saya dibaca?",
        "Mohon dibalas, sudah {days} hari.",
    ),
}

ACTIONS: dict[Lang, dict[str, str]] = {
    "en": {
        "account-access": "I have unlocked your account and sent a new password reset link to your email.",
        "billing": "The double charge of {amount} has been reversed and will appear on your next statement.",
        "cancellation": "Your {product} subscription will end on the last day of this month; no further bills.",
        "data-change": "Your address and contact details have been updated as requested.",
        "delivery": "Your parcel is at our {city} hub and the courier will deliver it tomorrow.",
        "document-request": "The document is attached as a PDF to this email.",
        "general-inquiry": "The {product} plan is available in {city} for {amount} per month, no minimum term.",
        "refund": "The refund of {amount} was processed today and reaches your card in 3 to 5 working days.",
        "service-complaint": "I am sorry for the visit; a senior technician will come on a date of your choice.",
        "technical-issue": "We found a fault on the line in {city}; it was repaired and the speed is back to normal.",
    },
    "id": {
        "account-access": "Akun Anda sudah kami buka dan link reset kata sandi baru sudah dikirim ke email.",
        "billing": "Tagihan ganda {amount} sudah kami batalkan dan akan terlihat di tagihan berikutnya.",
        "cancellation": "Layanan {product} akan berhenti di akhir bulan ini dan tidak ada tagihan lagi.",
        "data-change": "Alamat dan data kontak Anda sudah kami perbarui.",
        "delivery": "Paket Anda ada di gudang {city} dan akan diantar kurir besok.",
        "document-request": "Dokumen yang diminta kami lampirkan dalam bentuk PDF.",
        "general-inquiry": "Paket {product} tersedia di {city} seharga {amount} per bulan tanpa kontrak minimum.",
        "refund": "Dana {amount} sudah kami kembalikan hari ini dan masuk dalam 3 sampai 5 hari kerja.",
        "service-complaint": "Mohon maaf atas kunjungan tersebut; teknisi senior akan datang sesuai jadwal Anda.",
        "technical-issue": "Ada gangguan di jalur {city}; sudah diperbaiki dan kecepatan kembali normal.",
    },
}
