"""secrets and volumes

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('secrets',
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('namespace', sa.String(length=253), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', 'namespace', 'kind')
    )
    op.create_table('volumes',
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('namespace', sa.String(length=253), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('size', sa.String(length=32), nullable=False),
    sa.Column('created_by_run', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', 'namespace')
    )



def downgrade() -> None:

    op.drop_table('volumes')
    op.drop_table('secrets')

