"""More first names for the stand-in's IOI sentences: 400 common US first names.

Why: with the course's 300 IOI names, the gpt2-small stand-in learned the IOI circuit partly per
name. On names that never occur in a training IOI sentence (`synthetic.HELDOUT_NAMES`) it scored
0.66-0.82 where trained names scored 0.85-0.96 (same templates). More names in the IOI sentences
leave it less room to remember names one by one.

Where they come from: the 1990 US Census first-name frequency lists, as shipped in the PyPI package
`names==0.3.0` (MIT; `names/dist.female.first`, `dist.male.first`), merged by frequency and kept if
the name is one GPT-2 token with its leading space, not already in `synthetic.NAMES`, not a lower-case
word of the training text (Grace, Hope, Will), not a fact, place or object word of the synthetic data,
not frequent capitalised in the Bibles, and not a place or common word by a short hand-made list
(Dallas, April, Santa, ...). `scripts/make_name_pool.py` rebuilds the list and checks it matches.
"""

from __future__ import annotations

CENSUS_NAMES: tuple[str, ...] = tuple(
    """
    Christopher Jennifer Dorothy Timothy Jeffrey Kimberly Shirley Kathleen Pamela Stephanie Carolyn
    Ann Joyce Teresa Gloria Juan Cheryl Katherine Judith Lawrence Nicholas Kathy Theresa Beverly
    Denise Tammy Lori Kathryn Randy Eugene Louise Bonnie Lois Robin Peggy Connie Florence Clarence
    Tiffany Johnny Rosa Earl Cindy Antonio Manuel Rodney Sylvia Shannon Elaine Carrie Charlotte
    Glenn Monica Anita Melvin Debbie Herbert Frederick Eleanor Valerie Danielle Edwin Alicia Suzanne
    Michele Veronica Ricky Randall Lauren Cathy Regina Erica Audrey Samantha Francisco Theodore
    Clifford Miguel Stacy Brittany Melanie Calvin Laurie Ronnie Tommy Kristen Jeanne Darrell Jerome
    Tara Alvin Jorge Dustin Pedro Derrick Jessie Corey Maurice Vernon Roberto Clyde Pearl Hector
    Ricardo Allison Lester Claudia Brent Gilbert Heidi Lydia Courtney Marian Nathaniel Rafael Milton
    Irma Chester Lena Christy Franklin Cassandra Mitchell Roland Kay Naomi Dianne Sonia Cory Claude
    Erik Becky Violet Javier Fernando Clinton Misty Cody Julio Katrina Allan Nelson Lindsey Lindsay
    Clayton Dwight Natasha Isabel Everett Harriet Sandy Jaime Casey Alberta Sidney Byron Morris
    Alison Daryl Shelley Salvador Perry Sergio Enrique Freddie Whitney Patty Joey Luther Julius Kara
    Gerard Alexandra Brooke Kenny Angelo Shaun Chelsea Orlando Carlton Neal Pablo Lorenzo Omar Blake
    Kerry Willis Ginger Betsy Christie Malcolm Rudolph Damon Kelvin Preston Meredith Archie Leigh
    Randolph Garry Geoffrey Loren Kelley Lucas Alexis Benny Noel Spencer Edmund Lana Garrett Lowell
    Gregg Elsa Miranda Lucia Sherman Devin Marina Rena Forrest Irving Carroll Bryant Shelby Sammy
    Mack Marcos Nikki Karin Laurel Fern Lionel Marty Ellis Clint Nicolas Hugo Tomas Sheldon Frankie
    Polly Stewart Doyle Santiago Elias Bert Conrad Fay Helena Lamar Percy Dexter Bradford Amos Roman
    Elise Paige Petra Winston Brendan Toby Boyd Cary Santos Emanuel Emil Otto Teddy Bret Trent
    Emmanuel Stephan Louie Robbie Logan Harley Gale Lara Ivy Dee Pierre Freddy Bryce Kendall
    Sterling Mickey Chuck Damian Simone Leonardo Hans Monte Curt Quentin Murray Haley Minerva Lilly
    Rae Chandra Jamal Devon Harrison Tyson Burton Brady Elliott Bart Vance Denis Damien Desmond
    Darwin Buddy Hillary Xavier Nolan Carey Hal Kendrick Darius Clare Katy Fidel Marcel Raphael Dane
    Ned Rusty Michel Rory Reggie Graham Kris Mari Fran Isaiah Vaughn Gus Avery Diego Norris Rodrigo
    Gerry Wiley Ty Carly Sasha Augusta Vern Donovan Basil Riley Scot Vince Quincy Sebastian Romeo
    Dion Dante Clement Coy Maxwell Jarvis Bruno Mai Juliet Mara Liz Dudley Brock Sanford Barney
    Stefan Beau Truman Kirby Irwin Cruz Merlin Merrill Carlo Jade Zelda Mohammad Blair Dirk Clair
    Bernie Emerson Fletcher Jacques Dalton Sonny Carson Bennett Belle Hanna Giovanni
    """.split()
)
